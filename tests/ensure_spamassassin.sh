#!/bin/sh
# The copy tests score every shipped campaign's emails with SpamAssassin's local rules (Debian's
# `spamassassin` package). Install it when it is missing and we may (root); otherwise say why
# that test will skip.
if command -v spamassassin >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's spamassassin for the email copy tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin >/dev/null
  exit $?
fi
echo "no spamassassin and not root: the SpamAssassin test will skip (it fails under CI=true)"
