package identity

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// AccountChange is what someone asks to do to an account: change its
// attributes, state, password or roles (UpdateUser, CreateUser), reset
// its authenticator app (RemoveTOTP), and so on. CheckAccountChange
// decides it.
type AccountChange struct {
	Login    string        // the account, for messages
	Self     bool          // the actor acts on their own account
	Before   lanyard.Roles // the account's roles now (none for a new account)
	After    lanyard.Roles // its roles after the change; Before when roles stay
	NewRoles bool          // After differs from Before
	// Profile: the change sets the account's attributes, state or
	// password (UpdateUser), not only its authenticator app.
	Profile bool
	// UPN: the change sets, replaces or clears the account's UPN (not
	// only its case).
	UPN bool
}

// holdsStaffRole reports whether rs holds a role beyond user.
func holdsStaffRole(rs lanyard.Roles) bool {
	return slices.ContainsFunc(rs, func(r lanyard.Role) bool { return r != lanyard.RoleUser })
}

// CheckAccountChange is the rule that keeps staff accounts out of the
// help desk's reach (docs/security.md, "Roles"):
//
//   - nobody changes their own roles, administrators included (another
//     administrator does), so no one widens or keeps privileges alone;
//   - only an administrator grants or removes a role beyond user:
//     removing is checked like granting, so an operator cannot strip an
//     administrator to user and then take the account;
//   - on other people's accounts, operators act only on accounts that hold
//     no role beyond user, before and after the change; a staff account
//     (any role beyond user) is changed only by an administrator, and so
//     is the operator's own account (Profile changes);
//   - only an administrator sets, changes or clears a UPN: Windows maps a
//     smart card logon certificate to an account by its UPN, and an
//     operator who could give one could hand anyone's logon identity (a
//     staff member's, or a Windows account Lanyard does not know) to an
//     account whose password the operator knows (the store also keeps a
//     UPN with its first holder for good).
//
// Own accounts otherwise follow the caller's own checks (a current code
// to remove one's authenticator app, and so on).
func CheckAccountChange(actor lanyard.Roles, c AccountChange) error {
	admin := actor.Has(lanyard.RoleAdministrator)
	if c.UPN && !admin {
		return lanyard.Errorf(lanyard.EForbidden, "only an administrator can set, change or clear a UPN (%s)", c.Login)
	}
	if c.NewRoles {
		if c.Self {
			return lanyard.Errorf(lanyard.EForbidden, "you cannot change your own roles; ask another administrator")
		}
		for _, r := range lanyard.AllRoles {
			if r != lanyard.RoleUser && c.Before.Has(r) != c.After.Has(r) && !admin {
				return lanyard.Errorf(lanyard.EForbidden, "only an administrator can grant or remove the %s role", r)
			}
		}
	}
	if c.Self {
		// A staff member below administrator does not edit their own
		// account either: an operator who set their own UPN or e-mail could
		// have a card issued that logs on as someone else, with no second
		// person involved. An administrator does it for them.
		if c.Profile && !admin && holdsStaffRole(c.Before) {
			return lanyard.Errorf(lanyard.EForbidden, "your account holds a staff role; only an administrator can change it")
		}
		return nil
	}
	if !admin && !actor.Has(lanyard.RoleOperator) {
		return lanyard.Errorf(lanyard.EForbidden, "only operators and administrators can change another user's account")
	}
	if !admin && (holdsStaffRole(c.Before) || holdsStaffRole(c.After)) {
		return lanyard.Errorf(lanyard.EForbidden, "%s holds a staff role; only an administrator can change a staff account", c.Login)
	}
	return nil
}
