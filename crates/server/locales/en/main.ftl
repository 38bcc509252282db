# Entraide — English interface messages.
# Keep the three languages in step: a test compares the message ids.

skip-to-content = Skip to content
nav-label = Main navigation
nav-dashboard = Dashboard
nav-cases = Cases
nav-users = Users
nav-organisation = Organisation
nav-audit = Audit log
nav-account = My account
language = Language
language-apply = Change
sign-out = Sign out
footer-tagline = Entraide — international cooperation against cybercrime. Every access to case content is recorded.
you = you
save = Save
saved = Saved.
form-has-errors = Some fields need your attention: see the messages beside them.

sign-in-title = Sign in
sign-in-intro = Use the e-mail address and password given by your node administrator.
sign-in-submit = Sign in
signin-notice-expired = Your session has expired. Please sign in again.
signin-notice-required = Please sign in to continue.
signin-notice-signed-out = You have signed out.
second-factor-title = Second factor
second-factor-intro = Enter the six-digit code shown by your authenticator application.
second-factor-enrol-intro = Your organisation requires a second factor. Add this key to an authenticator application (by typing the secret or opening the link), then enter the six-digit code it shows.
second-factor-submit = Verify
totp-secret = Secret key
totp-uri = Authenticator link

field-email = E-mail address
field-password = Password
field-initial-password = Initial password
field-totp-code = Six-digit code
field-display-name = Name
field-roles = Roles
field-second-factor = Second factor (TOTP)
field-organisation-name = Organisation
field-organisation-kind = Kind of organisation
field-node-id = Node identifier
field-country = Country
field-case-reference = Case reference
field-case-title = Title
field-case-summary = Summary of facts
field-status = Status
field-updated = Last change
field-created = Opened
field-added = Added
field-access = Your access
field-actions = Actions
hint-case-reference = The national case or file number, e.g. PNC-2026-0042 (letters, digits and - / . _).
hint-case-summary = Case content: only members of the case can read it.
hint-password = At least 12 characters. The user should change it at first sign-in.
hint-require-totp = Users without a second factor will be asked to set one up at their next sign-in.

dashboard-welcome = Welcome, { $name }
dashboard-organisation = Your organisation
dashboard-you = Your account
dashboard-enable-totp = Set up a second factor
dashboard-my-cases = { $count ->
    [0] You are not a member of any case yet
    [one] Your case
   *[other] Your { $count } cases
}
dashboard-all-cases = All cases

cases-new = Open a case
cases-create = Open the case
cases-none = No cases to show.
cases-need-to-know = You see the cases you are a member of. Case content is shared on a need-to-know basis.
case-status-open = Open
case-status-closed = Closed
access-member = Member
access-manager = Administration only
case-no-summary = No summary yet.
case-manager-notice = You administer this node but are not a member of this case, so its content is hidden. Adding yourself as a member gives you access; it is recorded in the audit log.
case-add-myself = Add me as a member
case-members = Members
case-add-member-label = E-mail of the user to add
case-add-member = Add member
case-remove-member = Remove

role-administrator = Administrator
role-officer = Officer
role-approver = Approver
role-custodian = Evidence custodian
role-analyst = Analyst
role-auditor = Auditor

kind-central-authority = Central authority
kind-point-of-contact-24-7 = 24/7 point of contact
kind-prosecution-service = Prosecution service
kind-police-cyber-unit = Police cyber unit
kind-court = Court
kind-forensic-laboratory = Forensic laboratory
kind-service-provider = Service provider
kind-cert = CERT
kind-international-organisation = International organisation
kind-reporting-hotline = Reporting hotline

users-new = Add a user
users-create = Create the user
users-roles-of = Roles of { $name }
users-save-roles = Save roles
users-disable = Disable
users-enable = Enable
status-active = Active
status-disabled = Disabled
status-locked = Locked
status-totp = Second factor
status-enabled = Enabled

organisation-security = Security
organisation-require-totp = Require a second factor (TOTP) for every user

audit-intro = Every sign-in, token use, permission change and read or change of case content. The log cannot be edited or deleted.
audit-actor = Who
audit-action = Action
audit-outcome = Outcome
audit-from = From
audit-to = Until
audit-any = Any
audit-filter = Filter
audit-export = Export CSV
audit-none = No entries match.
audit-when = When (UTC)
audit-target = Concerning
audit-address = Address
audit-case-link = case
audit-older = Older entries
outcome-success = Success
outcome-denied = Denied
outcome-failure = Failure

account-totp-on = A code from your authenticator application is required at sign-in.
account-totp-off = No second factor is set up. We recommend one for every account.
account-totp-start = Set up a second factor
account-totp-confirm = Confirm

error-page-title = Something went wrong
error-page-code = Error code:
error-page-home = Back to the dashboard
error-page-not-found = This page does not exist.
error-invalid-credentials = Wrong e-mail address or password.
error-account-locked = Too many failed attempts: this account is locked for a while. Try again later or ask your administrator.
error-too-many-attempts = Too many attempts from your address. Wait a minute and try again.
error-invalid-second-factor = Wrong or already used code. Check your authenticator application's clock and try again.
error-forbidden-role = Your roles do not allow this.
error-not-case-member = Only members of this case may see its content.
error-cannot-manage-members = You may not manage the members of this case.
error-csrf-rejected = This form has expired or did not come from this site. Reload the page and try again.
error-not-found = Not found.
error-payload-too-large = What you sent is too large.
error-internal = An internal error occurred. It has been logged.
error-malformed-form = The form could not be read.
error-unsupported-language = Choose English, French or Spanish.
error-email-taken = A user with this e-mail address already exists.
error-case-reference-taken = A case with this reference already exists.
error-already-member = This user is already a member of the case.
error-unknown-user = No active user has this e-mail address.
error-cannot-disable-self = You cannot disable your own account.
error-cannot-demote-self = You cannot remove your own administrator role.
error-invalid-email = Enter a valid e-mail address.
error-display-name-required = Enter a name.
error-display-name-too-long = The name is too long (at most 120 characters).
error-password-too-short = The password must have at least 12 characters.
error-password-too-long = The password is too long (at most 256 characters).
error-invalid-role = Unknown role.
error-roles-required = Choose at least one role.
error-case-reference-required = Enter the case reference.
error-invalid-case-reference = Use at most 64 letters, digits and - / . _ for the reference.
error-case-title-required = Enter a title.
error-case-title-too-long = The title is too long (at most 200 characters).
error-case-summary-too-long = The summary is too long (at most 10,000 characters).
error-control-characters = Remove the invisible control characters from this field.
error-invalid-time = Enter a date such as 2026-11-25.
error-totp-already-enabled = A second factor is already set up.
error-totp-not-started = Start setting up the second factor first.
