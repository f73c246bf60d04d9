-- Placeholder on branch h-pivoff only: version 0021 belongs to another
-- helper's branch, and versions must be contiguous. Drop this file when
-- merging (the real 0021 takes its place).
SELECT 1;
