package migrations

import "testing"

// Both engines must describe the same schema history: same versions, same
// names, so that "version N" means the same thing everywhere.
func TestEnginesMatch(t *testing.T) {
	lite, err := For("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := For("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 {
		t.Fatal("no sqlite migrations embedded")
	}
	if len(lite) != len(pg) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].Name != pg[i].Name {
			t.Errorf("migration %d: sqlite %s, postgres %s", i+1, lite[i].Name, pg[i].Name)
		}
		if lite[i].SQL == "" || pg[i].SQL == "" {
			t.Errorf("migration %s is empty", lite[i].Name)
		}
	}
}

func TestUnknownEngine(t *testing.T) {
	if _, err := For("oracle"); err == nil {
		t.Fatal("For(oracle) succeeded")
	}
}
