// Package fsutil holds the file steps that more than one package needs to
// get exactly right.
package fsutil

import (
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces the file at path with b, readable by its owner
// only, so that a crash at any moment leaves either the old file or the
// new one, whole, never a mix or a truncated file:
//
//   - The bytes go to a temporary file in the same directory, because a
//     rename is atomic only within one file system; its name starts with
//     a dot so that it does not look like a real file while it exists.
//   - Its mode is set to 0600 before anything is written, so that no
//     other user can read the bytes at any point (the callers' files hold
//     sealed keys and card state).
//   - It is synced before the rename: without that, the rename can reach
//     the disk before the data does, and a crash leaves an empty file
//     under the real name.
//   - The rename swaps the new file in; the old one stays until then.
//   - The directory is synced last (SyncDir), so that the rename itself
//     survives a crash.
//
// On any error the temporary file is removed and path is untouched.
func WriteFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	renamed = true
	SyncDir(dir)
	return nil
}

// SyncDir flushes dir's entries to disk, so that a file created, renamed
// or removed in it stays so after a crash; the file's own data needs its
// own Sync. It is best effort: some file systems cannot sync a
// directory, and the change itself has already succeeded.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
