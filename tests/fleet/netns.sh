# shellcheck shell=bash
# A small data centre on one machine for the fleet test (sourced, not run):
# one network namespace per host, each joined by a veth pair to a bridge in a
# "switch" namespace. Every namespace is created here and removed by the EXIT
# trap; names carry the test's pid so that concurrent runs never meet. The
# addresses (10.77.0.0/24) exist only inside these namespaces.
#
# Needs root and a kernel that allows network namespaces, veth and bridges:
# where `ip netns add` is refused, fleet_require_netns exits 77 (meson's
# "skipped") with the reason.

FLEET_TAG="lf$$"
fleet_netns=()

fleet_require_netns() {
    local probe="${FLEET_TAG}-probe" err
    if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: the fleet test needs root for network namespaces (ip netns add)"
        exit 77
    fi
    command -v ip > /dev/null || { echo "SKIP: iproute2 (ip) is not installed"; exit 77; }
    if ! err=$(ip netns add "$probe" 2>&1); then
        echo "SKIP: network namespaces are not permitted here: $err"
        exit 77
    fi
    if ! err=$(ip -n "$probe" link add "${FLEET_TAG}br" type bridge 2>&1); then
        ip netns del "$probe"
        echo "SKIP: no bridge devices in network namespaces: $err"
        exit 77
    fi
    ip netns del "$probe"
}

# fleet_ns HOST: the namespace name of HOST.
fleet_ns() { echo "${FLEET_TAG}-$1"; }

# fleet_up HOST=ADDR...: the switch, then each host with lo up and eth0 at ADDR/24.
fleet_up() {
    local sw spec host addr ns i=0
    sw=$(fleet_ns sw)
    ip netns add "$sw"
    fleet_netns+=("$sw")
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    for spec in "$@"; do
        host=${spec%%=*} addr=${spec#*=} ns=$(fleet_ns "$host")
        i=$((i + 1))
        ip netns add "$ns"
        fleet_netns+=("$ns")
        # Both ends made directly in their namespaces: no name ever exists in the host's.
        ip link add eth0 netns "$ns" type veth peer name "p$i" netns "$sw"
        ip -n "$sw" link set "p$i" master br0
        ip -n "$sw" link set "p$i" up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
    done
}

# fleet_exec HOST CMD...: runs CMD on HOST (in its namespace).
fleet_exec() {
    local ns
    ns=$(fleet_ns "$1")
    shift
    ip netns exec "$ns" "$@"
}

# Kills whatever still runs in the namespaces (only processes this test
# started live there), then removes them.
fleet_down() {
    local ns pids
    for ns in "${fleet_netns[@]}"; do
        pids=$(ip netns pids "$ns" 2> /dev/null || true)
        # shellcheck disable=SC2086 # one pid per word
        [ -n "$pids" ] && { kill -9 $pids 2> /dev/null || true; }
    done
    sleep 0.2
    for ns in "${fleet_netns[@]}"; do
        ip netns del "$ns" 2> /dev/null || true
    done
    fleet_netns=()
}
