package sqlstore

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const templateCols = `id, name, display_name, ca, key_algorithms, validity_days, key_usage, ext_key_usage, subject, slot,
	requires_ca_approval, requires_form_approval, prompt_key_password, key_archival, card_keys_only, created_at, updated_at, revoke_on_disable, renewal_key`

var (
	qInsertTemplate = prepared(`INSERT INTO templates (name, display_name, ca, key_algorithms, validity_days, key_usage, ext_key_usage, subject, slot,
		requires_ca_approval, requires_form_approval, prompt_key_password, key_archival, card_keys_only, created_at, updated_at, revoke_on_disable, renewal_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateTemplate = prepared(`UPDATE templates SET name = ?, display_name = ?, ca = ?, key_algorithms = ?, validity_days = ?, key_usage = ?,
		ext_key_usage = ?, subject = ?, slot = ?, requires_ca_approval = ?, requires_form_approval = ?, prompt_key_password = ?,
		key_archival = ?, card_keys_only = ?, updated_at = ?, revoke_on_disable = ?, renewal_key = ? WHERE id = ?`)
	// TemplateByName runs for every certificate issued.
	qTemplateByName = prepared(`SELECT ` + templateCols + ` FROM templates WHERE name = ?`)
	qListTemplates  = prepared(`SELECT ` + templateCols + ` FROM templates ORDER BY name`)
	qDeleteTemplate = prepared(`DELETE FROM templates WHERE name = ?`)
)

// templateDocs encodes the JSON columns of tp.
func templateDocs(tp *lanyard.Template) (algs, ku, eku, subject string, err error) {
	if algs, err = jsonList(tp.KeyAlgs); err != nil {
		return
	}
	if ku, err = jsonList(tp.KeyUsage); err != nil {
		return
	}
	if eku, err = jsonList(tp.ExtKeyUsage); err != nil {
		return
	}
	subject, err = jsonDoc(tp.Subject)
	return
}

func normTemplate(tp *lanyard.Template) {
	tp.KeyAlgs = nonNil(tp.KeyAlgs)
	tp.KeyUsage = nonNil(tp.KeyUsage)
	tp.ExtKeyUsage = nonNil(tp.ExtKeyUsage)
	tp.CreatedAt, tp.UpdatedAt = normTime(tp.CreatedAt), normTime(tp.UpdatedAt)
	tp.RenewalKey = tp.RenewalKey.Mode()
}

func (t templatesTx) CreateTemplate(tp *lanyard.Template) error {
	normTemplate(tp)
	algs, ku, eku, subject, err := templateDocs(tp)
	if err != nil {
		return err
	}
	err = t.row(qInsertTemplate, tp.Name, tp.DisplayName, tp.CA, algs, tp.ValidityDays, ku, eku, subject, tp.Slot,
		tp.RequiresCAApproval, tp.RequiresFormApproval, tp.PromptKeyPassword, tp.KeyArchival, tp.CardKeysOnly,
		micros(tp.CreatedAt), micros(tp.UpdatedAt), tp.RevokeOnDisable, tp.RenewalKey).Scan(&tp.ID)
	if err != nil {
		return t.writeErr(err, "template "+quote(tp.Name)+" already exists", "")
	}
	return nil
}

func (t templatesTx) UpdateTemplate(tp *lanyard.Template) error {
	normTemplate(tp)
	algs, ku, eku, subject, err := templateDocs(tp)
	if err != nil {
		return err
	}
	res, err := t.exec(qUpdateTemplate, tp.Name, tp.DisplayName, tp.CA, algs, tp.ValidityDays, ku, eku, subject, tp.Slot,
		tp.RequiresCAApproval, tp.RequiresFormApproval, tp.PromptKeyPassword, tp.KeyArchival, tp.CardKeysOnly, micros(tp.UpdatedAt), tp.RevokeOnDisable, tp.RenewalKey, tp.ID)
	return t.one(res, err, notFound("template %d not found", tp.ID), "template "+quote(tp.Name)+" already exists", "")
}

func (t templatesTx) TemplateByName(name string) (*lanyard.Template, error) {
	tp, err := scanTemplate(t.row(qTemplateByName, name))
	if err != nil {
		return nil, t.readErr(err, notFound("template %q not found", name))
	}
	return tp, nil
}

// ListTemplates returns every template, ordered by name.
func (t templatesTx) ListTemplates() ([]*lanyard.Template, error) {
	rows, err := t.rows(qListTemplates)
	return collect(t.txn, rows, err, scanTemplate)
}

func (t templatesTx) DeleteTemplate(name string) error {
	res, err := t.exec(qDeleteTemplate, name)
	return t.one(res, err, notFound("template %q not found", name), "", "")
}

func scanTemplate(r scanner) (*lanyard.Template, error) {
	var tp lanyard.Template
	var algs, ku, eku, subject string
	var created, updated int64
	if err := r.Scan(&tp.ID, &tp.Name, &tp.DisplayName, &tp.CA, &algs, &tp.ValidityDays, &ku, &eku, &subject, &tp.Slot,
		&tp.RequiresCAApproval, &tp.RequiresFormApproval, &tp.PromptKeyPassword, &tp.KeyArchival, &tp.CardKeysOnly, &created, &updated, &tp.RevokeOnDisable, &tp.RenewalKey); err != nil {
		return nil, err
	}
	var err error
	if tp.KeyAlgs, err = listOut[[]lanyard.KeyAlgorithm](algs, "templates.key_algorithms"); err != nil {
		return nil, err
	}
	if tp.KeyUsage, err = listOut[[]string](ku, "templates.key_usage"); err != nil {
		return nil, err
	}
	if tp.ExtKeyUsage, err = listOut[[]string](eku, "templates.ext_key_usage"); err != nil {
		return nil, err
	}
	if err := docOut(subject, "templates.subject", &tp.Subject); err != nil {
		return nil, err
	}
	tp.CreatedAt, tp.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &tp, nil
}
