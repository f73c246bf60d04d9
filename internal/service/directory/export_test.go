package directory

// SetBatchDone sets the hook called after each committed batch.
func SetBatchDone(d *Directory, f func(n int)) { d.batchDone = f }

// SetBatch sets how many entries one transaction applies.
func SetBatch(d *Directory, n int) { d.cfg.Batch = n }
