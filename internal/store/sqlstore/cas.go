package sqlstore

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const caCols = `name, kind, cert_der, chain_der, sealed_key, crl_number, crl_der, crl_updated, created_at`

var (
	qInsertCA = prepared(`INSERT INTO cas (name, kind, cert_der, chain_der, sealed_key, crl_number, crl_der, crl_updated, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qCAByName = prepared(`SELECT ` + caCols + ` FROM cas WHERE name = ?`)
	qListCAs  = prepared(`SELECT ` + caCols + ` FROM cas ORDER BY name`)
	// The number condition makes the update a compare-and-set: see UpdateCACRL.
	qUpdateCACRL = prepared(`UPDATE cas SET crl_number = ?, crl_der = ?, crl_updated = ? WHERE name = ? AND crl_number < ?`)
	qCACRLNumber = prepared(`SELECT crl_number FROM cas WHERE name = ?`)
)

func normCA(c *lanyard.CARecord) {
	c.CertDER, c.SealedKey, c.CRLDER = bytesOut(c.CertDER), bytesOut(c.SealedKey), bytesOut(c.CRLDER)
	c.ChainDER = nonNil(c.ChainDER)
	c.CRLUpdated, c.CreatedAt = normTime(c.CRLUpdated), normTime(c.CreatedAt)
}

func (t casTx) CreateCA(c *lanyard.CARecord) error {
	normCA(c)
	chain, err := jsonList(c.ChainDER)
	if err != nil {
		return err
	}
	_, err = t.exec(qInsertCA, c.Name, c.Kind, blob(c.CertDER), chain, blob(c.SealedKey), c.CRLNumber, blob(c.CRLDER),
		micros(c.CRLUpdated), micros(c.CreatedAt))
	if err != nil {
		return t.writeErr(err, "CA "+quote(c.Name)+" already exists", "")
	}
	return nil
}

func (t casTx) CAByName(name string) (*lanyard.CARecord, error) {
	c, err := scanCA(t.row(qCAByName, name))
	if err != nil {
		return nil, t.readErr(err, notFound("CA %q not found", name))
	}
	return c, nil
}

// ListCAs returns every CA record, ordered by name.
func (t casTx) ListCAs() ([]*lanyard.CARecord, error) {
	rows, err := t.rows(qListCAs)
	return collect(t.txn, rows, err, scanCA)
}

// UpdateCACRL stores a newly issued CRL. RFC 5280 5.2.3 requires CRL
// numbers to increase; the update only applies when number is greater than
// the stored one, so two replicas that raced to issue the same number
// cannot both record it: the loser gets EConflict and nothing is stored.
func (t casTx) UpdateCACRL(name string, number int64, der []byte, updated time.Time) error {
	res, err := t.exec(qUpdateCACRL, number, blob(der), micros(updated), name, number)
	if err := t.one(res, err, notFound("CA %q not found", name), "", ""); !lanyard.IsCode(err, lanyard.ENotFound) {
		return err
	}
	var current int64
	if err := t.row(qCACRLNumber, name).Scan(&current); err != nil {
		return t.readErr(err, notFound("CA %q not found", name))
	}
	return lanyard.Errorf(lanyard.EConflict, "CA %q: CRL number %d is not greater than the current %d", name, number, current)
}

func scanCA(r scanner) (*lanyard.CARecord, error) {
	var c lanyard.CARecord
	var chain string
	var crlUpdated, created int64
	if err := r.Scan(&c.Name, &c.Kind, &c.CertDER, &chain, &c.SealedKey, &c.CRLNumber, &c.CRLDER, &crlUpdated, &created); err != nil {
		return nil, err
	}
	var err error
	if c.ChainDER, err = listOut[[][]byte](chain, "cas.chain_der"); err != nil {
		return nil, err
	}
	c.CertDER, c.SealedKey, c.CRLDER = bytesOut(c.CertDER), bytesOut(c.SealedKey), bytesOut(c.CRLDER)
	c.CRLUpdated, c.CreatedAt = fromMicros(crlUpdated), fromMicros(created)
	return &c, nil
}
