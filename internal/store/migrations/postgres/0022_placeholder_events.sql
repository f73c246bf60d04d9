-- Placeholder on branch h-events only: version 0022 belongs to another
-- helper's branch, and versions must be contiguous. Drop this file when
-- merging (the real 0022 takes its place).
SELECT 1;
