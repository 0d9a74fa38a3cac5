#!/bin/sh
# install.sh: install hosho-intake as a systemd service on Debian, Ubuntu, RHEL and the like.
#
#   deploy/install.sh [--root DIR] [--binary PATH]    install or upgrade
#   deploy/install.sh [--root DIR] --uninstall [--purge]
#
# Installs the binary to /usr/local/bin/hosho-intake (built from this checkout with Go when
# --binary is not given), the units hosho-intake.service and hosho-intake@.service and
# their backup units (hosho-intake-backup.service/.timer, hosho-intake-backup@.service/
# .timer) to /etc/systemd/system/, and, when there is none yet, the example config to
# /etc/hosho-intake/config.toml. An existing config is never overwritten: the new example
# goes beside it as config.toml.example-new. It creates the system user and group
# hosho-intake and empty secret files for the credentials the unit loads.
#
# --root DIR installs into DIR instead of / (a throwaway root for tests, or an image being
# built): the user is created with useradd --root when DIR has an etc/passwd, and nothing
# is asked of the running systemd. --uninstall removes the binary and the units (stopping
# and disabling the services first) and keeps the config and the state; --purge removes
# those too, and the user.
set -eu

name=hosho-intake
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")

usage() {
	sed -n '2,18s/^# \{0,1\}//p' "$0"
}

die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

ROOT=
BINARY=
uninstall=no
purge=no
while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
	--root=*) ROOT=${1#--root=}; shift ;;
	--binary) [ $# -ge 2 ] || die "--binary needs a path"; BINARY=$2; shift 2 ;;
	--binary=*) BINARY=${1#--binary=}; shift ;;
	--uninstall) uninstall=yes; shift ;;
	--purge) uninstall=yes; purge=yes; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
done

if [ -n "$ROOT" ]; then
	mkdir -p "$ROOT"
	ROOT=$(cd "$ROOT" && pwd -P)
	[ "$ROOT" != / ] || ROOT=
fi

am_root=no
[ "$(id -u)" -ne 0 ] || am_root=yes
if [ -z "$ROOT" ] && [ $am_root = no ]; then
	die "run as root (or with --root DIR to install into a directory)"
fi

# systemd is asked only on the real root and only when it is the running init
# (sd_booted(3): /run/systemd/system exists).
systemd=no
if [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemd=yes
fi

etc=$ROOT/etc/$name
units=$ROOT/etc/systemd/system
bin=$ROOT/usr/local/bin/$name
state=$ROOT/var/lib/$name

# group_id prints the gid of the group hosho-intake in the target root, or nothing.
group_id() {
	if [ -z "$ROOT" ]; then
		getent group "$name" 2>/dev/null | cut -d: -f3
	elif [ -f "$ROOT/etc/group" ]; then
		awk -F: -v n="$name" '$1 == n { print $3 }' "$ROOT/etc/group"
	fi
}

user_exists() {
	if [ -z "$ROOT" ]; then
		getent passwd "$name" >/dev/null 2>&1
	else
		[ -f "$ROOT/etc/passwd" ] && grep -q "^$name:" "$ROOT/etc/passwd"
	fi
}

# shadow runs a shadow-utils command (useradd, groupdel, ...) on the target root.
shadow() {
	if [ -z "$ROOT" ]; then
		"$@"
	else
		cmd=$1
		shift
		"$cmd" --root "$ROOT" "$@"
	fi
}

# put installs file $1 at $2 with mode $3 and owner $4 (uid:gid, or empty to leave it),
# through a temporary name and a rename, so that a running binary or a reader never sees
# half a file.
put() {
	install -m "$3" "$1" "$2.install-tmp"
	if [ -n "$4" ]; then chown "$4" "$2.install-tmp"; fi
	mv -f "$2.install-tmp" "$2"
}

if [ $uninstall = yes ]; then
	if [ $systemd = yes ]; then
		for unit in "$name.service" $(find "$units" -path "$units/*.wants/$name@*.service" 2>/dev/null | sed 's|.*/||' | sort -u); do
			systemctl disable --now "$unit" >/dev/null 2>&1 || true
		done
		for unit in $(find "$units" -path "$units/*.wants/$name-backup@*.timer" 2>/dev/null | sed 's|.*/||' | sort -u); do
			systemctl disable --now "$unit" >/dev/null 2>&1 || true
		done
		systemctl stop "$name@*.service" "$name-backup*.timer" "$name-backup*.service" >/dev/null 2>&1 || true
	fi
	# What `systemctl disable` leaves (or does not do, under --root).
	find "$units" -path "$units/*.wants/$name*.service" -type l -exec rm -f {} + 2>/dev/null || true
	find "$units" -path "$units/*.wants/$name-backup*.timer" -type l -exec rm -f {} + 2>/dev/null || true
	rm -f "$units/$name.service" "$units/$name@.service" "$units/$name-backup.service" "$units/$name-backup.timer" \
		"$units/$name-backup@.service" "$units/$name-backup@.timer" "$bin"
	echo "removed $ROOT/usr/local/bin/$name and the units $name.service, $name@.service and their backup units"
	if [ $systemd = yes ]; then systemctl daemon-reload; fi
	if [ $purge = no ]; then
		echo "kept the config ($ROOT/etc/$name) and the state ($ROOT/var/lib/$name); --purge removes them"
		exit 0
	fi
	rm -rf "$etc" "$state" "$units/$name.service.d" "$units/$name@.service.d" \
		"$units/$name-backup.service.d" "$units/$name-backup@.service.d"
	echo "removed $ROOT/etc/$name and $ROOT/var/lib/$name"
	if [ $am_root = yes ] && { [ -z "$ROOT" ] || [ -f "$ROOT/etc/passwd" ]; }; then
		if user_exists; then shadow userdel "$name"; fi
		if [ -n "$(group_id)" ]; then shadow groupdel "$name"; fi
		echo "removed the user and group $name"
	fi
	exit 0
fi

# The binary: the one given, or built from this checkout.
tmp=
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
if [ -z "$BINARY" ]; then
	# sudo's secure_path drops /usr/local/go/bin, where Go's own installer puts it.
	if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH=$PATH:/usr/local/go/bin; fi
	command -v go >/dev/null 2>&1 ||
		die "Go is not installed (or not in root's PATH): build with 'go build ./cmd/$name' and pass --binary PATH"
	tmp=$(mktemp -d)
	version=$(cd "$src" && git describe --always --dirty 2>/dev/null || echo dev)
	echo "building $name $version from $src"
	(cd "$src" && go build -trimpath -ldflags "-X main.version=$version" -o "$tmp/$name" ./cmd/$name)
	BINARY=$tmp/$name
fi
if [ ! -f "$BINARY" ] || [ ! -x "$BINARY" ]; then die "not an executable file: $BINARY"; fi

# The user and group: a system user with no home and no login shell. The unit runs as it;
# the group may read the config and use the control socket (add admins to it).
if [ $am_root = yes ] && { [ -z "$ROOT" ] || { [ -f "$ROOT/etc/passwd" ] && [ -f "$ROOT/etc/group" ]; }; }; then
	command -v useradd >/dev/null 2>&1 || die "useradd not found (package passwd or shadow-utils)"
	# Debian and RHEL 8 and later both have /usr/sbin/nologin.
	nologin=/usr/sbin/nologin
	[ -n "$ROOT" ] || [ -x $nologin ] || nologin=/sbin/nologin
	[ -n "$(group_id)" ] || shadow groupadd --system "$name"
	if ! user_exists; then
		shadow useradd --system --no-create-home --home-dir "/var/lib/$name" --shell "$nologin" \
			--gid "$name" --comment "hosho-intake daemon" "$name"
		echo "created the system user $name${ROOT:+ in $ROOT}"
	fi
else
	echo "note: not creating the user $name: $ROOT has no etc/passwd and etc/group, or this is not run as root"
fi

gid=$(group_id)
owner=
if [ $am_root = yes ] && [ -n "$gid" ]; then
	owner=0:$gid
else
	echo "note: files are left owned by $(id -un): the group $name does not exist here, or this is not run as root"
fi
rootowner=
[ $am_root = no ] || rootowner=0:0

install -d -m 0755 "$ROOT/usr/local/bin" "$units"
put "$BINARY" "$bin" 0755 "$rootowner"
put "$here/$name.service" "$units/$name.service" 0644 "$rootowner"
put "$here/$name@.service" "$units/$name@.service" 0644 "$rootowner"
put "$here/$name-backup.service" "$units/$name-backup.service" 0644 "$rootowner"
put "$here/$name-backup.timer" "$units/$name-backup.timer" 0644 "$rootowner"
put "$here/$name-backup@.service" "$units/$name-backup@.service" 0644 "$rootowner"
put "$here/$name-backup@.timer" "$units/$name-backup@.timer" 0644 "$rootowner"
echo "installed $ROOT/usr/local/bin/$name and $units/$name.service, $name@.service, $name-backup.service, $name-backup.timer, $name-backup@.service, $name-backup@.timer"

# The config directory: root writes it, the service's group reads it.
install -d -m 0750 "$etc"
chmod 0750 "$etc"
if [ -n "$owner" ]; then chown "$owner" "$etc"; fi
if [ -e "$etc/config.toml" ]; then
	put "$here/config.example.toml" "$etc/config.toml.example-new" 0640 "$owner"
	echo "kept the existing $etc/config.toml; this version's example is $etc/config.toml.example-new"
else
	put "$here/config.example.toml" "$etc/config.toml" 0640 "$owner"
	echo "installed the example config $etc/config.toml"
fi
# The secrets, loaded by systemd itself (LoadCredential=, as root) and handed to the service
# in $CREDENTIALS_DIRECTORY: no one else needs to read them, so root:root 0600. The unit
# fails to start while one is missing, so they exist from the start, empty.
for secret in imap-password smtp-password; do
	if [ ! -e "$etc/$secret" ]; then
		(umask 077 && : >"$etc/$secret")
		if [ -n "$rootowner" ]; then chown "$rootowner" "$etc/$secret"; fi
		echo "created the empty secret file $etc/$secret (0600)"
	fi
done

if [ $systemd = yes ]; then
	systemctl daemon-reload
	if systemctl is-active --quiet "$name.service"; then
		echo "note: $name is running the previous binary: systemctl restart $name"
	fi
fi

where=
[ -z "$ROOT" ] || where=" (in $ROOT)"
cat <<EOF

hosho-intake is installed$where. Next steps:

  1. Edit /etc/$name/config.toml (agency, mailbox, SMTP server, digest recipients) and put
     the passwords in /etc/$name/imap-password and /etc/$name/smtp-password (one line each;
     systemd hands them to the service as the credentials imap-password and smtp-password).

  2. Check the config and log in to both servers; as root, CREDENTIALS_DIRECTORY makes its
     "cred:" keys read those files:
       sudo env CREDENTIALS_DIRECTORY=/etc/$name /usr/local/bin/$name check --connect --config /etc/$name/config.toml

  3. Start it and watch it:
       sudo systemctl enable --now $name
       $name status          (as root, or as a member of the group $name)
       journalctl -u $name -f

  4. A daily backup (/var/backups/$name, 14 kept):
       sudo systemctl enable --now $name-backup.timer

One service per mailbox instead: see the comments at the top of /etc/systemd/system/$name@.service;
its daily backup is $name-backup@NAME.timer.
EOF
