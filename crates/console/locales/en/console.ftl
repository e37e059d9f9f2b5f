# caseledger console — English. Every key has its twin in zh-CN/console.ftl (a test checks).

## Common
app-name = caseledger rights-protection cases
skip-to-content = Skip to content
nav-label = Main menu
nav-queue = My work queue
footer = caseledger · labour-law supervision cases of the trade unions · every action is kept in a tamper-evident event log
back-to-console = Back to the console
sign-out = Sign out
field-invalid = Please check this:

## Roles
role-admin = Administrator
role-supervisor = Supervisor
role-officer = Officer
role-partner = Partner department
role-auditor = Auditor

## Sign-in
sign-in-title = Sign in
field-login = Login
field-password = Password
sign-in-button = Sign in
sign-in-refused = The login or the password is wrong.
sign-in-locked = Too many failed sign-ins: this login is locked for now. Try again in { $minutes } minutes.

## Setting a password
setup-title = Choose a password
setup-intro = { $name } (login { $login }), please choose a password for your account. This link works once.
field-new-password = New password
field-password-again = New password, again
password-rules = At least 12 characters; not your login, not a common password. A sentence you remember works well.
setup-button = Save the password
setup-done = Your password is set. Please sign in.
password-too-short = The password needs at least 12 characters.
password-too-long = The password may have at most 256 characters.
password-is-login = The password may not be your login.
password-too-common = This password is too common or too easy to guess; please choose another.
password-mismatch = The two passwords differ.

## Home
home-greeting = Hello, { $name }.

## Problem pages
problem-sign-in-title = Please sign in
problem-sign-in = Please sign in first.
problem-forged-title = Request refused
problem-forged = This form was not sent from a page of this service, or the page is out of date. To protect the data nothing was changed. Go back, reload the page and try again.
problem-bad-form-title = Something is wrong with the form
problem-bad-form = What was sent could not be read; nothing was changed. Go back and try again.
problem-form-too-large = What was sent is too long; nothing was changed.
problem-file-too-large = The file is larger than this service takes; nothing was kept.
problem-file-type = Files of this type are not taken (PDF, images, Word, Excel, ODT and plain text are); nothing was kept.
problem-file-cut-short = The upload was cut short; nothing was kept. Please try again.
problem-file-erased = This file held personal data, which was erased; its record remains.
problem-not-found-title = Not found
problem-not-found = This was not found, or you may not see it.
problem-page-not-found = This page does not exist.
problem-refused-title = Not done
problem-invalid = Some of what you entered needs changing.
problem-forbidden = Your role may not do this.
problem-rule = The case's current state does not allow this.
problem-conflict = This conflicts with an existing record.
problem-resubmitted = This form was sent before with different content. Reload the page and fill it in again.
problem-stale-title = Someone else updated the case
problem-stale = After you opened the page, someone else changed this case. Your action was not carried out, so nothing of theirs is overwritten. Look at the case as it is now and decide again.
problem-unavailable-title = Cannot be done right now
problem-unavailable = The service cannot handle this request right now; nothing was changed. Please try again shortly.
problem-internal-title = Something went wrong
problem-internal = The service met an unexpected error, which is logged. Please try again shortly.

## Menu
nav-cases = Cases
nav-new-case = New case
nav-users = Accounts
choose = Choose…
nobody = Not assigned
overdue = Overdue

## My work queue
queue-title = My work queue
queue-intro = { $count } open cases are assigned to you; letters overdue or due within three days come first.
queue-limited = Only the { $limit } most urgent are shown.
queue-empty = No open case is assigned to you.
queue-all-cases = See all cases
queue-shared-cases = See the cases shared with your department

## Table columns
col-urgency = Urgency
col-title = Case
col-status = Status
col-category = Category
col-employer = Employer
col-assignee = Officer
col-deadline = Answer due
col-opened = Opened

## Urgency
urgency-overdue = Overdue
urgency-due_soon = Due within 3 days
urgency-waiting = Awaiting answer
urgency-no_deadline = No deadline

## Status
status-open = Open
status-investigating = Investigating
status-awaiting_reply = Awaiting reply
status-escalated = Escalated
status-closed = Closed

## Categories
category-wage_arrears = Wage arrears
category-occupational_disease = Occupational disease
category-safety_hazard = Safety hazard
category-ppe_shortfall = Protective equipment shortfall
category-labour_contract = Labour contract
category-social_insurance = Social insurance
category-working_hours = Working hours
category-collective_contract = Collective contract
category-other = Other

## Sources
source-hotline = Hotline
source-walk_in = Walk-in
source-inspection = Inspection
source-referral = Referral
source-online = Online
source-other = Other

## Outcomes
outcome-rectified = Rectified
outcome-mediated = Mediated
outcome-arbitration = Arbitration
outcome-litigation = Litigation
outcome-referred = Referred
outcome-withdrawn = Withdrawn
outcome-unfounded = Unfounded

## Letters
kind-reminder = Reminder letter
kind-opinion = Labour-law supervision opinion letter
kind-recommendation = Labour-law supervision recommendation letter

## Joint mechanism
tier-three_party = Three-party (stationed at the union)
tier-four_way = Four-way cooperation
tier-five_way = Five-way coordination

## Departments
department-hrss = Human Resources and Social Security
department-labour_inspection = Labour Inspection
department-arbitration = Labour Dispute Arbitration
department-justice = Justice (legal aid and mediation)
department-court = People's Court
department-procuratorate = People's Procuratorate
department-public_security = Public Security
department-emergency_management = Emergency Management (work safety)
department-health = Health Commission

## Case list
cases-title = Cases
cases-filters = Filter cases
filter-q = Search
filter-q-hint = Looks in titles and descriptions; separate words with spaces, all must occur.
filter-any = Any
filter-department = Shared with
filter-overdue = Overdue
filter-yes = Yes
filter-no = No
field-region = Region
filter-opened-from = Opened from
filter-opened-to = Opened until
filter-apply = Filter
filter-clear = Clear filters
cases-results = Results
filter-fix = Please correct the filters marked above.
pager-label = Pages
pager-first = First page
pager-next = Next page
cases-none = No case matches.

## New case
open-title = Open a case
form-has-errors = { $count } fields need correcting; each is marked beside it.
open-the-matter = The matter
field-title = Title
field-source = Source
field-description = Description
field-industry = Industry
field-workers-affected = Workers affected
open-employer = Employer
field-employer-name = Employer name
field-credit-code = Unified social credit code
field-credit-code-hint = 18 characters; the check character is verified.
field-credit-code-unverified = The code fails its check: record it as it is (supervisors only)
open-complainant = Complainant
open-complainant-hint = Optional. Personal data is stored encrypted; partner departments and auditors never see it.
field-complainant-name = Name
field-complainant-phone = Phone
field-complainant-id = Resident ID number
open-button = Open the case

## Case page
case-version = Version { $version }
done-opened = The case is open.
done-assign = The officer is assigned.
done-findings = The finding is recorded.
done-letters = The letter is issued.
done-answer = The answer is recorded.
done-service = The service is recorded; the deadline counts from it.
done-follow_up = The follow-up visit is recorded.
done-drafted = The letter is drafted for sign-off; it is numbered and printed once a supervisor approves it.
done-approve = The letter is approved and issued.
done-return = The draft is sent back.
done-escalate = The case is escalated to the joint mechanism.
done-refer = The case is referred.
done-feedback = The feedback is recorded.
done-notes = The note is added.
done-close = The case is closed.
done-reopen = The case is reopened.
stale-to-form = See what you entered
form-open = Open the form “{ $title }”
case-facts = The matter
case-updated = Last updated
case-closed-at = Closed
field-outcome = Outcome
field-closing-summary = Closing summary
credit-code-unverified = fails its check
complainant-none = No complainant was recorded.
complainant-withheld = The complainant's details are not shown to your role.
complainant-erased = The complainant's personal data was erased.
case-letters = Letters
letter-state-no_answer_needed = No answer needed
letter-state-awaiting = Awaiting answer
letter-state-awaiting_service = Awaiting service
letter-state-overdue = Overdue, unanswered
letter-state-rectified = Answered: rectified
letter-state-not_rectified = Answered: not rectified
field-recipient = Recipient
field-department = Department
letter-issued = Issued
letter-answered = Answered
rectified-yes = Rectified
rectified-no = Not rectified
field-answer = Answer
letter-content = Letter text
command-answer = Record the answer
field-rectified = Rectified?
case-no-letters = No letter has been issued.
letter-served = Served
method-in_person = In person
method-post = By post
method-left_at_premises = Left at the premises
method-electronic = Electronically
letter-received-by = received by { $name }
letter-tracking = tracking number { $number }
letter-refused = refused
deadline-end-of-day = by the end of { $day }
letter-provisional = provisional
letter-provisional-hint = That year's official holiday notice is not published yet: the deadline is counted on a provisional calendar and may move once it is.
letter-deadline-rule-served-working_days = Answer within { $amount } working days of service
letter-deadline-rule-served-calendar_days = Answer within { $amount } days of service
letter-deadline-rule-issued-working_days = Answer within { $amount } working days of issue
letter-deadline-rule-issued-calendar_days = Answer within { $amount } days of issue
letter-document = Download { $number } (PDF)
letter-follow-ups = Follow-up visits
case-drafts = Drafts awaiting sign-off
draft-state-awaiting = awaiting a supervisor's sign-off
draft-state-returned = sent back
draft-drafted = Drafted
draft-returned = Sent back
command-approve = Approve and issue
command-return = Send back
field-return-reason = Why it goes back
command-service = Record service
field-service-method = How it was served
field-served-at = Served at
field-served-at-hint = The deadline counts in working days from the day after service.
field-received-by = Received by
field-tracking-number = Tracking number
field-refused = The recipient refused it
command-follow-up = Record a follow-up visit
field-visited-at = Visited at
field-follow-up-rectified = Rectified at the visit?
field-follow-up-findings = What the visit found
case-work = Work on the case
case-findings = Findings
field-hazard = Hazard
case-escalation = Joint mechanism
case-departments = Departments
case-not-escalated = Not escalated.
case-shared-with = Shared with
case-not-shared = Not shared with any department.
case-referrals = Referrals
case-feedback = Department feedback
case-notes = Notes
case-actions = Actions
command-assign = Assign an officer
field-officer = Officer
field-officer-hint = The officer's login, so that the case appears in their work queue.
command-assign-me = Assign to me
command-findings = Record a finding
field-finding = Finding
command-letters = Issue a letter
field-kind = Kind of letter
field-deadline-hint = Leave empty for the default deadline of the kind.
field-department-none = None (a recommendation letter needs one)
command-escalate = Escalate to the joint mechanism
field-tier = Tier
field-departments-hint = Tick none for the tier's default members.
field-reason = Reason
command-refer = Refer to a department
command-close = Close the case
command-reopen = Reopen (supervisors)
command-feedback = Record department feedback
field-feedback = Feedback
field-feedback-outcome = The department's outcome
command-notes = Add a note
field-note = Note
case-closed-no-work = The case is closed. A supervisor can reopen it.
case-timeline = Timeline
timeline-limited = The latest { $shown } of { $total } events are shown; the audit pages show them all.
case-chain = Hash chain position { $position }
role-system = System

## Events
event-CaseOpened = Case opened
event-OfficerAssigned = Officer assigned
event-FindingRecorded = Finding recorded
event-SupervisionLetterIssued = Letter issued
event-LetterAnswered = Answer recorded
event-LetterServed = Letter served
event-FollowUpRecorded = Follow-up visit recorded
event-LetterDrafted = Letter drafted
event-LetterApproved = Letter approved
event-LetterReturned = Draft sent back
event-AttachmentAdded = File attached
event-AttachmentWithdrawn = Attachment withdrawn
event-LetterDeadlineMissed = Answer deadline passed
event-EscalatedToJointMechanism = Escalated to the joint mechanism
event-ReferredToDepartment = Referred to a department
event-DepartmentFeedbackRecorded = Department feedback
event-NoteAdded = Note
event-CaseClosed = Case closed
event-CaseReopened = Case reopened
event-PersonalDataErased = Personal data erased

## Accounts
users-title = Accounts
users-link-title = Setup link for { $login }
users-link-intro = Give this link to { $name } in person; it lets them choose a password. It works once, for 72 hours, and is not shown again.
users-link-label = Setup link
users-new = New account
field-login-hint = 2–64 lower-case letters, digits, dots, underscores or hyphens.
field-person-name = Name
field-role = Role
field-department-partner-only = None (partner departments only)
users-create = Create the account
users-list = All accounts
users-status = Status
users-actions = Actions
user-status-pending_setup = Waiting for a password
user-status-active = Active
user-status-disabled = Disabled
users-reset = New setup link
users-reset-for = New setup link for { $login }
users-disable = Disable
users-disable-for = Disable { $login }
users-disabled = The account is disabled and its sessions have ended.

## Field errors
error-empty = This cannot be empty.
error-future = The deadline must be in the future.
error-not-future = This cannot be later than now.
error-before-letter = This cannot be before the letter was issued.
error-too-long = This is too long.
error-single-line = One line only, without control characters.
error-control-characters = Control characters are not allowed.
error-check-character = The check character does not match; please check the number.
error-length-18 = This must be 18 characters long.
error-unknown-department = Not a configured department.
error-recommendation-department = A recommendation letter must name the government department it goes to.
error-choose = Please choose from the list.
error-number = Please enter a whole number.
error-date-time = Please enter a valid date and time.
error-date = Please enter a valid date.
error-search = Too many or too long search words (at most 16 words of 64 characters).
error-login-taken = This login is taken.

## Rules
rule-case_already_opened = This case is already open.
rule-case_closed = The case is closed; a supervisor can reopen it.
rule-case_not_closed = Only a closed case can be reopened.
rule-letter_not_open = This letter needs no answer or was already answered.
rule-deadline_not_passed = The letter's deadline has not passed.
rule-deadline_already_missed = The missed deadline is already recorded.
rule-tier_not_higher = Escalation only goes up a tier.
rule-not_shared_with_department = The case is not shared with your department.
rule-opinion_letter_awaiting_answer = An opinion letter still awaits the employer's answer; the case can only be closed as referred or withdrawn.
rule-recommendation_needs_unheeded_opinion = A recommendation letter may follow only an opinion letter that was refused or went unanswered.
rule-personal_data_already_erased = The personal data is already erased.
rule-no_personal_data = The case holds no complainant personal data.
rule-already_assigned = The case is already assigned to that officer.
rule-letter_already_issued = This letter was already issued.
rule-letter_already_served = This letter was already served.
rule-letter_draft_returned = This draft was sent back and cannot be approved; draft the letter again.
rule-attachment_already_added = This file is attached to the case already.
rule-attachment_already_withdrawn = This attachment is withdrawn already.
rule-personal_data_erased = This case's personal data was erased; it takes no new personal files.
rule-case_event_limit_reached = The case holds as many records as allowed.

# Files attached to a case (contract §10).
case-attachments = Files
attachments-none = No files are attached yet.
attachment-file = File
attachment-size = Size
attachment-added = Attached
attachment-state = Marked
attachment-name-withheld = (name withheld: personal data)
attachment-personal = Personal data
attachment-shared = Shared with departments
attachment-erased = Erased
attachment-withdrawn = Withdrawn
command-attach = Attach the file
command-withdraw = Withdraw
command-withdraw-attachment = Withdraw { $name }
field-withdraw-reason = Why it is not relevant
field-attachment-file = File
field-attachment-file-hint = PDF, photos (JPEG, PNG, WebP, HEIC), Word, Excel, ODT or plain text, up to 25 MB; the type is read from the file itself.
field-attachment-personal = Holds personal data (sealed with the complainant's data, erased with it, never shown to partners or auditors)
field-attachment-shared = Partner departments the case is shared with may read it (files without personal data only)
done-attached = The file is attached; its SHA-256 is recorded in the log.
done-withdrawn = The file is withdrawn; it stays listed.
field-receipt = Receipt of service (an attached file)
field-receipt-none = None attached
letter-receipt = receipt of service

# ── Auditor workbench (issue #14, item 3): the global log, a case's history and versions,
#    verifying the chain, the signed checkpoints, the export. ──
nav-audit = Audit
audit-nav-label = Audit workbench
audit-log-title = Global log
audit-log-intro = Every event of the log in position order, { $head } in all; each event's hash chains it to the one before.
audit-log-filters = Filter the log
audit-col-type = Event type
audit-filter-case = Case id
audit-filter-case-hint = A case's id (UUID), to see only that case's events.
audit-page-size = Events per page
audit-filter-after = Start after position
audit-log-range = Positions { $from } to { $to }: { $count } events
audit-log-empty = No event matches here.
audit-log-budget = This page looked through positions { $from } to { $to } and stopped; turn the page to search on.
audit-col-position = Position
audit-col-time = Time
audit-col-case = Case
audit-col-actor = Actor
audit-col-hash = Hash
audit-col-version = Version
audit-pager = Pages
audit-oldest = Oldest
audit-earlier = Earlier
audit-later = Later
audit-newest = Newest
audit-first-page = First page
audit-last-page = Last page
audit-history-title = Case history
audit-log-of-case = This case's events in the global log
audit-versions-title = Case versions
audit-history-range = Versions { $first } to { $last } (of { $total })
audit-history-hint = Each event's prev_hash is the hash of the event before it; open one to see the whole hash and the event's data. Complainants' personal data is held in the log only sealed.
audit-data = Data
audit-see-version = See the case as it stood at this version
audit-verify-title = Verify the hash chain
audit-verify-intro = Recomputes every event's hash from position 1 to the head (now { $head }) and checks that the chain is unbroken.
audit-verify-run = Verification
audit-verify-none = No verification has run on this instance yet.
audit-verify-started = Started by { $name } at { $at }.
audit-verify-progress = { $checked } of { $total } events checked
audit-verify-reload = Refresh the progress
audit-verify-intact = The hash chain is intact
audit-verify-events = Events verified
audit-verify-head-position = Head position
audit-verify-head-hash = Head hash
audit-verify-finished = Finished
audit-verify-broken = The hash chain breaks at position { $position }
audit-verify-first-bad = First bad position
audit-verify-reason = Reason
audit-verify-failed = The verification could not finish (the store failed); please try again later; the service's log says more.
audit-verify-start = Verify the whole chain
audit-export = Export the log
audit-export-intro = Download the whole log (NDJSON, one event a line, as GET /v1/audit/export gives it) to verify it offline.
audit-export-download = Download the export
audit-export-hint = Verify it offline: caseledger audit verify FILE
audit-checkpoints-title = Signed checkpoints
audit-checkpoints-intro = The service signs the log's state (position, the Merkle tree's size and root hash) with its Ed25519 key at regular intervals. Each signature is checked again against the service's public key when this page opens.
audit-public-key = The service's public key:
audit-no-public-key = This service has no signing key; its checkpoints cannot be checked.
audit-checkpoints-summary = On this page { $valid } signatures are valid and { $invalid } are not.
audit-col-tree-size = Tree size
audit-col-root-hash = Root hash
audit-col-signature = Signature
audit-signature-valid = Valid
audit-signature-invalid = Invalid
audit-checkpoints-none = No signed checkpoint yet.
audit-travel = See the case at a version or a time
audit-stepper = Versions
audit-version-first = First version
audit-version-previous = Previous version
audit-version-next = Next version
audit-version-last = Latest version
audit-version-number = Version (1–{ $total })
audit-version-go = Show
audit-version-at = Time
audit-version-at-hint = In the office's time zone.
audit-stood-at-version = The case at version { $version } (of { $total })
audit-stood-at-time = The case at { $at }: version { $version } (of { $total })
audit-chain-point = This version's last event: position { $position }, hash
audit-complainant-present = A complainant is named (personal data is not shown to auditors)
audit-escalation = Joint mechanism
audit-shared-with = Shared with
audit-counts = Records
audit-counts-value = { $findings } findings, { $notes } notes, { $files } files
error-audit-case-id = Please give a case's whole id (a UUID).
error-audit-after-and-before = Give one starting point only: after or before.
error-audit-version-or-time = Please give either a version or a time, not both.
error-audit-before-opening = The case was not opened yet at that time.
