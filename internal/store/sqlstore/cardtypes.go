package sqlstore

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const cardTypeCols = `id, name, description, kind, atr_patterns, admin_key_kind, admin_key_mode, sealed_secrets,
	has_default_admin_key, has_default_user_pin, has_default_puk, pin_policy, key_algorithms, supports_init, created_at, updated_at`

var (
	qInsertCardType = prepared(`INSERT INTO card_types (name, description, kind, atr_patterns, admin_key_kind, admin_key_mode, sealed_secrets,
		has_default_admin_key, has_default_user_pin, has_default_puk, pin_policy, key_algorithms, supports_init, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateCardType = prepared(`UPDATE card_types SET name = ?, description = ?, kind = ?, atr_patterns = ?, admin_key_kind = ?, admin_key_mode = ?,
		sealed_secrets = ?, has_default_admin_key = ?, has_default_user_pin = ?, has_default_puk = ?, pin_policy = ?, key_algorithms = ?,
		supports_init = ?, updated_at = ? WHERE id = ?`)
	qCardTypeByName = prepared(`SELECT ` + cardTypeCols + ` FROM card_types WHERE name = ?`)
	qListCardTypes  = prepared(`SELECT ` + cardTypeCols + ` FROM card_types ORDER BY name`)
	qDeleteCardType = prepared(`DELETE FROM card_types WHERE name = ?`)
)

// cardTypeDocs encodes the JSON columns of c.
func cardTypeDocs(c *lanyard.CardType) (atrs, pin, algs string, err error) {
	if atrs, err = jsonList(c.ATRPatterns); err != nil {
		return
	}
	if pin, err = jsonDoc(c.PIN); err != nil {
		return
	}
	algs, err = jsonList(c.KeyAlgorithms)
	return
}

func normCardType(c *lanyard.CardType) {
	c.ATRPatterns = nonNil(c.ATRPatterns)
	c.KeyAlgorithms = nonNil(c.KeyAlgorithms)
	c.SealedSecrets = bytesOut(c.SealedSecrets)
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
}

func (t cardTypesTx) CreateCardType(c *lanyard.CardType) error {
	normCardType(c)
	atrs, pin, algs, err := cardTypeDocs(c)
	if err != nil {
		return err
	}
	err = t.row(qInsertCardType, c.Name, c.Description, string(c.Kind), atrs, string(c.AdminKey), string(c.AdminMode), blob(c.SealedSecrets),
		c.HasDefaultAdminKey, c.HasDefaultUserPIN, c.HasDefaultPUK, pin, algs, c.SupportsInit, micros(c.CreatedAt), micros(c.UpdatedAt)).Scan(&c.ID)
	if err != nil {
		return t.writeErr(err, "card type "+quote(c.Name)+" already exists", "")
	}
	return nil
}

func (t cardTypesTx) UpdateCardType(c *lanyard.CardType) error {
	normCardType(c)
	atrs, pin, algs, err := cardTypeDocs(c)
	if err != nil {
		return err
	}
	res, err := t.exec(qUpdateCardType, c.Name, c.Description, string(c.Kind), atrs, string(c.AdminKey), string(c.AdminMode), blob(c.SealedSecrets),
		c.HasDefaultAdminKey, c.HasDefaultUserPIN, c.HasDefaultPUK, pin, algs, c.SupportsInit, micros(c.UpdatedAt), c.ID)
	return t.one(res, err, notFound("card type %d not found", c.ID), "card type "+quote(c.Name)+" already exists", "")
}

func (t cardTypesTx) CardTypeByName(name string) (*lanyard.CardType, error) {
	c, err := scanCardType(t.row(qCardTypeByName, name))
	if err != nil {
		return nil, t.readErr(err, notFound("card type %q not found", name))
	}
	return c, nil
}

// ListCardTypes returns every card type, ordered by name.
func (t cardTypesTx) ListCardTypes() ([]*lanyard.CardType, error) {
	rows, err := t.rows(qListCardTypes)
	return collect(t.txn, rows, err, scanCardType)
}

func (t cardTypesTx) DeleteCardType(name string) error {
	res, err := t.exec(qDeleteCardType, name)
	return t.one(res, err, notFound("card type %q not found", name), "", "")
}

func scanCardType(r scanner) (*lanyard.CardType, error) {
	var c lanyard.CardType
	var kind, adminKey, adminMode, atrs, pin, algs string
	var created, updated int64
	if err := r.Scan(&c.ID, &c.Name, &c.Description, &kind, &atrs, &adminKey, &adminMode, &c.SealedSecrets,
		&c.HasDefaultAdminKey, &c.HasDefaultUserPIN, &c.HasDefaultPUK, &pin, &algs, &c.SupportsInit, &created, &updated); err != nil {
		return nil, err
	}
	c.Kind, c.AdminKey, c.AdminMode = lanyard.CardKind(kind), lanyard.AdminKeyKind(adminKey), lanyard.AdminKeyMode(adminMode)
	var err error
	if c.ATRPatterns, err = listOut[[]string](atrs, "card_types.atr_patterns"); err != nil {
		return nil, err
	}
	if c.KeyAlgorithms, err = listOut[[]lanyard.KeyAlgorithm](algs, "card_types.key_algorithms"); err != nil {
		return nil, err
	}
	if err := docOut(pin, "card_types.pin_policy", &c.PIN); err != nil {
		return nil, err
	}
	c.SealedSecrets = bytesOut(c.SealedSecrets)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}
