#!/bin/bash
# dracut module: cvm-consoled in a systemd initrd, serving
# systemd-tty-ask-password-agent (the LUKS prompt of systemd-cryptsetup) over the
# attested channel. Only when /etc/cvm-console/initramfs.toml exists.

check() {
    [[ -r /etc/cvm-console/initramfs.toml ]] || return 1
    require_binaries cvm-consoled || return 1
    return 0
}

depends() {
    echo network systemd
    return 0
}

installkernel() {
    instmods sev-guest tdx_guest configfs
}

install() {
    inst_binary /usr/bin/cvm-consoled
    inst_simple /etc/cvm-console/initramfs.toml
    # The files the configuration names (never an identity key: it is ephemeral here).
    local key path f
    for key in authorized_clients certs_dir simulated_dir; do
        path=$(sed -n "s/^[[:space:]]*$key[[:space:]]*=[[:space:]]*\"\(.*\)\".*/\1/p" \
            /etc/cvm-console/initramfs.toml | head -n1)
        [[ -n $path ]] || continue
        if [[ -d $path ]]; then
            for f in "$path"/*; do inst_simple "$f"; done
        else
            inst_simple "$path"
        fi
    done
    inst_binary systemd-tty-ask-password-agent
    inst_simple "$moddir/cvm-consoled-initrd.service" "$systemdsystemunitdir/cvm-consoled-initrd.service"
    $SYSTEMCTL -q --root "$initdir" enable cvm-consoled-initrd.service
}
