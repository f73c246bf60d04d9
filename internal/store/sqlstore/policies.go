package sqlstore

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const policyCols = `id, name, description, priority, settings, assignments, created_at, updated_at`

var (
	qInsertPolicy = prepared(`INSERT INTO policies (name, description, priority, settings, assignments, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdatePolicy = prepared(`UPDATE policies SET name = ?, description = ?, priority = ?, settings = ?, assignments = ?, updated_at = ?
		WHERE id = ?`)
	qPolicyByName = prepared(`SELECT ` + policyCols + ` FROM policies WHERE name = ?`)
	// Lowest priority number first: the order in which policies win.
	qListPolicies = prepared(`SELECT ` + policyCols + ` FROM policies ORDER BY priority, name`)
	qDeletePolicy = prepared(`DELETE FROM policies WHERE name = ?`)
)

func normPolicy(p *lanyard.Policy) {
	p.Assignments = nonNil(p.Assignments)
	p.CreatedAt, p.UpdatedAt = normTime(p.CreatedAt), normTime(p.UpdatedAt)
}

// policyDocs encodes the JSON columns of p.
func policyDocs(p *lanyard.Policy) (settings, assignments string, err error) {
	if settings, err = jsonDoc(p.Settings); err != nil {
		return
	}
	assignments, err = jsonList(p.Assignments)
	return
}

func (t policiesTx) CreatePolicy(p *lanyard.Policy) error {
	normPolicy(p)
	settings, assignments, err := policyDocs(p)
	if err != nil {
		return err
	}
	err = t.row(qInsertPolicy, p.Name, p.Description, p.Priority, settings, assignments, micros(p.CreatedAt), micros(p.UpdatedAt)).Scan(&p.ID)
	if err != nil {
		return t.writeErr(err, "policy "+quote(p.Name)+" already exists", "")
	}
	return nil
}

func (t policiesTx) UpdatePolicy(p *lanyard.Policy) error {
	normPolicy(p)
	settings, assignments, err := policyDocs(p)
	if err != nil {
		return err
	}
	res, err := t.exec(qUpdatePolicy, p.Name, p.Description, p.Priority, settings, assignments, micros(p.UpdatedAt), p.ID)
	return t.one(res, err, notFound("policy %d not found", p.ID), "policy "+quote(p.Name)+" already exists", "")
}

func (t policiesTx) PolicyByName(name string) (*lanyard.Policy, error) {
	p, err := scanPolicy(t.row(qPolicyByName, name))
	if err != nil {
		return nil, t.readErr(err, notFound("policy %q not found", name))
	}
	return p, nil
}

// ListPolicies returns every policy with its assignments, lowest priority
// number (the winner) first, then by name.
func (t policiesTx) ListPolicies() ([]*lanyard.Policy, error) {
	rows, err := t.rows(qListPolicies)
	return collect(t.txn, rows, err, scanPolicy)
}

func (t policiesTx) DeletePolicy(name string) error {
	res, err := t.exec(qDeletePolicy, name)
	return t.one(res, err, notFound("policy %q not found", name), "", "")
}

func scanPolicy(r scanner) (*lanyard.Policy, error) {
	var p lanyard.Policy
	var settings, assignments string
	var created, updated int64
	if err := r.Scan(&p.ID, &p.Name, &p.Description, &p.Priority, &settings, &assignments, &created, &updated); err != nil {
		return nil, err
	}
	if err := docOut(settings, "policies.settings", &p.Settings); err != nil {
		return nil, err
	}
	var err error
	if p.Assignments, err = listOut[[]lanyard.Assignment](assignments, "policies.assignments"); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &p, nil
}
