package sqlstore

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// The email <> ” term lets both engines use the partial index
// users_email_lower (migration 0035).
var qUsersByEmail = prepared(`SELECT ` + userCols + ` FROM users WHERE lower(email) = lower(?) AND email <> '' ORDER BY id`)

func (t usersTx) UsersByEmail(email string) ([]*lanyard.User, error) {
	if email == "" {
		return []*lanyard.User{}, nil
	}
	rows, err := t.rows(qUsersByEmail, email)
	return collect(t.txn, rows, err, scanUser)
}
