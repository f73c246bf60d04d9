package sqlstore

var (
	qSetting    = prepared(`SELECT value FROM settings WHERE name = ?`)
	qPutSetting = prepared(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`)
)

// Setting returns the value stored under key; an empty value comes back as
// nil, an unset key as ENotFound.
func (t settingsTx) Setting(key string) ([]byte, error) {
	var v []byte
	if err := t.row(qSetting, key).Scan(&v); err != nil {
		return nil, t.readErr(err, notFound("setting %q not found", key))
	}
	return bytesOut(v), nil
}

// PutSetting stores value under key, replacing any earlier value.
func (t settingsTx) PutSetting(key string, value []byte) error {
	if _, err := t.exec(qPutSetting, key, blob(value)); err != nil {
		return t.writeErr(err, "", "")
	}
	return nil
}
