#!/bin/sh
# ctest ansible-syntax: both playbooks parse (ansible-playbook --syntax-check)
# against the example inventory, with Ansible's own files kept in a
# temporary folder. Fails, not skips, without ansible: CI installs it
# (scripts/install-deps.sh).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
command -v ansible-playbook >/dev/null ||
  { echo "ansible-syntax: no ansible-playbook: scripts/install-deps.sh installs it" >&2; exit 1; }
tmp=$(mktemp -d /tmp/iom-ansible-syntax.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/none.cfg"
for playbook in site.yml cleanup.yml; do
  ANSIBLE_HOME="$tmp" ANSIBLE_LOCAL_TEMP="$tmp/tmp" ANSIBLE_CONFIG="$tmp/none.cfg" ANSIBLE_NOCOLOR=1 \
    ansible-playbook --syntax-check -i "$here/inventory.example.ini" "$here/$playbook"
done
