# caseledger console — English. Every key has its twin in zh-CN/console.ftl (a test checks).

## Common
app-name = caseledger rights-protection cases
skip-to-content = Skip to content
nav-label = Main menu
nav-queue = My work
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
home-title = Console
home-greeting = Hello, { $name }.

## Problem pages
problem-sign-in-title = Please sign in
problem-sign-in = Please sign in first.
problem-forged-title = Request refused
problem-forged = This form was not sent from a page of this service, or the page is out of date. To protect the data nothing was changed. Go back, reload the page and try again.
problem-bad-form-title = Something is wrong with the form
problem-bad-form = What was sent could not be read; nothing was changed. Go back and try again.
problem-form-too-large = What was sent is too long; nothing was changed.
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
