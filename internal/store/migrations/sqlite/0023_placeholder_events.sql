-- Placeholder on branch h-events only: version 0023 belongs to another
-- helper's branch, and versions must be contiguous. Drop this file when
-- merging (the real 0023 takes its place).
SELECT 1;
