package agent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

var execLookPath = exec.LookPath

// nssTimeout bounds one pk12util run.
const nssTimeout = 30 * time.Second

// importNSS imports the PKCS#12 file at path into the account's NSS
// database (HOME/.pki/nssdb, SQL format), where one exists, with NSS's
// pk12util run as the account's user so the database keeps its owner.
// The password reaches pk12util through a pipe, never its command line.
// It reports whether the import succeeded and, if not, why, in words for
// the user; a user without an NSS database gets no note.
func (h *softHost) importNSS(acct LocalAccount, path, password string) (bool, string) {
	db := filepath.Join(acct.Home, NSSDir)
	if _, err := os.Stat(filepath.Join(db, "cert9.db")); err != nil {
		return false, ""
	}
	if h.cfg.PK12Util == "" {
		return false, "pk12util (libnss3-tools) is not installed; the certificate was not added to your NSS database"
	}
	ctx, cancel := context.WithTimeout(context.Background(), nssTimeout)
	defer cancel()
	args := []string{"-i", path, "-d", "sql:" + db, "-k", "/dev/fd/3"}
	var files []*os.File
	// An empty key database password file is what a database made with
	// --empty-password takes; a database with a password of its own
	// refuses the import, and the note says so.
	dbr, dbw, err := os.Pipe()
	if err != nil {
		return false, "the NSS import could not start: " + err.Error()
	}
	defer dbr.Close()
	dbw.Close()
	files = append(files, dbr)
	if password == "" {
		args = append(args, "-W", "")
	} else {
		pr, pw, err := os.Pipe()
		if err != nil {
			return false, "the NSS import could not start: " + err.Error()
		}
		defer pr.Close()
		go func() { pw.WriteString(password); pw.Close() }()
		files = append(files, pr)
		args = append(args, "-w", "/dev/fd/4")
	}
	cmd := exec.CommandContext(ctx, h.cfg.PK12Util, args...)
	cmd.ExtraFiles = files
	cmd.Env = []string{"HOME=" + acct.Home, "PATH=/usr/bin:/bin", "LANG=C"}
	if acct.UID >= 0 && os.Getuid() == 0 && acct.UID != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(acct.UID), Gid: uint32(acct.GID)}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		var ee *exec.ExitError
		if !errors.As(err, &ee) || msg == "" {
			msg = err.Error()
		}
		if len(msg) > 300 {
			msg = msg[len(msg)-300:]
		}
		h.log.Warn("NSS import of a software store failed", "path", path, "err", msg)
		return false, "the certificate was not added to your NSS database: " + msg
	}
	return true, ""
}
