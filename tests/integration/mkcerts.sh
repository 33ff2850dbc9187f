#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Make throw-away TLS material for the tests in DIR (nothing is committed):
#   ca.pem/.key           the pool CA
#   host1.pem/.key        host1, signed by the pool CA (SAN host1, 127.0.0.1-3)
#   host2.pem/.key        host2, signed by the pool CA (SAN host2, 127.0.0.1-3)
#   host3.pem/.key        host3, signed by the pool CA (SAN host3, 127.0.0.1-3)
#   other-ca.pem/.key     another pool's CA
#   rogue.pem/.key        a host of the other pool
#   psk, psk-other        32-byte pre-shared keys as hex
# Usage: mkcerts.sh DIR
set -eu
d=$1
mkdir -p "$d"
cd "$d"
umask 077

newkey() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$1.key" 2>/dev/null
}

ca() {
    newkey "$1"
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 \
        -subj "/CN=$1" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

host() { # NAME CA
    newkey "$1"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
    printf 'subjectAltName=DNS:%s,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' \
        "$1" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
        -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

ca ca
ca other-ca
host host1 ca
host host2 ca
host host3 ca
host rogue other-ca
openssl rand -hex 32 > psk
openssl rand -hex 32 > psk-other
