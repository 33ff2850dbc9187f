/* SPDX-License-Identifier: LGPL-2.1-only */
/* The command table of xlmig-xe and what commands share (internal). */
#ifndef XLMIG_XE_CMD_H
#define XLMIG_XE_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "cpurecord.h"
#include "jsonfile.h"
#include "poolconf.h"
#include "internal.h"
#include "rpc.h"
#include "units.h"
#include "xe-args.h"

#define XE_RECORD_FIELDS_MAX 32

/*
 * One row per command (xl's xl_cmdtable.c): dispatch, `xlmig-xe --help`
 * (name and summary), `COMMAND --help` and the man page come from it.
 */
struct xe_cmd {
    const char *name;
    int (*fn)(const struct xe_args *a);
    const char *const *keys;     /* accepted key=value keys, NULL-ended */
    const char *summary;         /* one line, no full stop */
    bool listing;                /* a *-list: takes --json */
    const char *help;
};

/*
 * Print fields as one xe record: the first field name left-aligned,
 * the others right-aligned to it, as xe does.  With params= only the
 * named fields, in the order asked; an unknown name is an error.
 * --minimal: only the values, comma-separated.
 */
int xe_print_record(const struct xe_args *a, const struct xlmig__kv *kv,
                    size_t n);

/*
 * The records of a listing (every *-list), printed as xe_print_record()
 * does, or with --json as one JSON array of objects (cli.h's
 * xlmig__cli_json_*: params= selects the keys; a field named in
 * @numbers is a number, one in @flags true/false).
 *   xe_list_begin()  0, or an error said on stderr
 *   xe_list_add()    one record; an error (said) ends the listing
 *   xe_list_end()    closes the JSON array (also after an error)
 */
struct xe_list {
    const struct xe_args *a;
    struct xlmig__cli_json json;
};

int xe_list_begin(struct xe_list *l, const struct xe_args *a,
                  const char *const *numbers, const char *const *flags);
int xe_list_add(struct xe_list *l, const struct xlmig__kv *kv, size_t n);
void xe_list_end(struct xe_list *l);

/* What --json adds to a listing's help. */
#define XE_JSON_HELP \
    "  --json         a JSON array of objects, keys the field names\n" \
    "                 (params= selects them); not with --minimal\n"

/*
 * xlmig-xe --complete ARGS... (xe-complete.c): what a shell's completion
 * offers, from @table's @n commands, their keys and help, and the local
 * state.  @argv holds the words after --complete.  Exit status.
 */
int xe_complete(const struct xe_cmd *table, size_t n, int argc,
                char **argv);

/* The CPU commands (cmd-cpu.c). */
int xe_cmd_host_cpu_info(const struct xe_args *a);
int xe_cmd_host_cpu_record(const struct xe_args *a);
int xe_cmd_host_cpu_import(const struct xe_args *a);
int xe_cmd_pool_cpu_info(const struct xe_args *a);
int xe_cmd_vm_cpu_record(const struct xe_args *a);
int xe_cmd_vm_cpu_check(const struct xe_args *a);
extern const char *const xe_keys_host_cpu_info[];
extern const char *const xe_keys_host_cpu_record[];
extern const char *const xe_keys_host_cpu_import[];
extern const char *const xe_keys_pool_cpu_info[];
extern const char *const xe_keys_vm_cpu_record[];
extern const char *const xe_keys_vm_cpu_check[];

/* The pool commands (cmd-pool.c). */
int xe_cmd_pool_join(const struct xe_args *a);
int xe_cmd_pool_eject(const struct xe_args *a);
int xe_cmd_host_list(const struct xe_args *a);
int xe_cmd_host_disable(const struct xe_args *a);
int xe_cmd_host_enable(const struct xe_args *a);
int xe_cmd_pool_param_get(const struct xe_args *a);
int xe_cmd_pool_param_set(const struct xe_args *a);
int xe_cmd_task_list(const struct xe_args *a);
int xe_cmd_task_cancel(const struct xe_args *a);
extern const char *const xe_keys_pool_join[];
extern const char *const xe_keys_pool_eject[];
extern const char *const xe_keys_host_list[];
extern const char *const xe_keys_host_enable[];   /* and host-disable */
extern const char *const xe_keys_pool_param_get[];
extern const char *const xe_keys_pool_param_set[];
extern const char *const xe_keys_task_list[];
extern const char *const xe_keys_task_cancel[];

#define XE_CONFIG_HELP \
    "  config=FILE    the pool configuration (default $XLMIG_CONFIG or\n" \
    "                 " XLMIG__POOLCONF_DEFAULT ")\n"

#define XE_POOL_COMMANDS \
    { "pool-join", xe_cmd_pool_join, xe_keys_pool_join, \
      "Join this host to its configured pool", false, \
      "Join this host (name and address of its pool configuration) to the\n" \
      "pool of its configured master.\n" \
      "  master-address=HOST:PORT  ask this xlmigd instead of the configured\n" \
      "                 master\n" XE_CONFIG_HELP }, \
    { "pool-eject", xe_cmd_pool_eject, xe_keys_pool_eject, \
      "Remove a host from the pool", false, \
      "Remove host NAME from the pool.\n  host=NAME      (required)\n" \
      XE_CONFIG_HELP }, \
    { "host-list", xe_cmd_host_list, xe_keys_host_list, \
      "List the pool's hosts", true, \
      "The pool's hosts.  Fields: name-label address master joined\n" \
      "  enabled\n" XE_CONFIG_HELP XE_JSON_HELP }, \
    { "host-disable", xe_cmd_host_disable, xe_keys_host_enable, \
      "Put a host into maintenance mode", false, \
      "Maintenance mode: no VM may start on host NAME or migrate to it\n" \
      "(HOST_DISABLED) until host-enable; its running VMs stay, and a\n" \
      "migration already under way finishes.  Kept by the master across\n" \
      "restarts; nothing changes for a host disabled already.\n" \
      "  host=NAME      (required)\n" XE_CONFIG_HELP }, \
    { "host-enable", xe_cmd_host_enable, xe_keys_host_enable, \
      "End a host's maintenance mode", false, \
      "End host-disable: VMs may start on host NAME and migrate to it.\n" \
      "  host=NAME      (required)\n" XE_CONFIG_HELP }, \
    { "pool-param-get", xe_cmd_pool_param_get, xe_keys_pool_param_get, \
      "Show one pool setting", false, \
      "One pool setting.\n" \
      "  param-name=KEY  one of migration-concurrency,\n" \
      "                 migration-compression, wlb-hook, wlb-hook-timeout\n" \
      "                 (required)\n" \
      XE_CONFIG_HELP }, \
    { "pool-param-set", xe_cmd_pool_param_set, xe_keys_pool_param_set, \
      "Change pool settings", false, \
      "Change pool settings (kept by the master across restarts).\n" \
      "  migration-concurrency=N    migrations at once from this pool, 1-50\n" \
      "                             (default 3); takes effect at once\n" \
      "  migration-compression=BOOL  compress migration streams\n" \
      "                             (default false)\n" \
      "  wlb-hook=COMMAND           the workload balancer that ranks hosts\n" \
      "                             for vm-migrate without host= (run by\n" \
      "                             /bin/sh -c on the VM's host: it must\n" \
      "                             exist on every host; at most 1024\n" \
      "                             bytes of printable ASCII; empty: none,\n" \
      "                             the default; docs/specs/wlb-hook.md)\n" \
      "  wlb-hook-timeout=S         seconds it may take, 1-120 (default\n" \
      "                             10); then the built-in choice is taken\n" \
      XE_CONFIG_HELP }, \
    { "task-list", xe_cmd_task_list, xe_keys_task_list, \
      "List the pool's migrations in flight", true, \
      "Migrations of the pool in flight (running, queued, recovered).\n" \
      "Fields: uuid vm source destination status phase progress priority\n" \
      XE_CONFIG_HELP XE_JSON_HELP }, \
    { "task-cancel", xe_cmd_task_cancel, xe_keys_task_cancel, \
      "Cancel a migration", false, \
      "Cancel a migration: a queued one leaves the queue, a running one\n" \
      "loses its slot.\n  uuid=ID        the task (as task-list shows)\n" \
      XE_CONFIG_HELP }, \
    { "pool-rolling-upgrade", xe_cmd_pool_rolling_upgrade, \
      xe_keys_pool_rolling_upgrade, \
      "Upgrade every host of the pool, one at a time", false, \
      "Upgrade every host of the pool, one at a time, its VMs elsewhere\n" \
      "meanwhile: the master first, then the members by name; each host\n" \
      "not upgraded yet is disabled, evacuated, upgraded by CMD (run on\n" \
      "it by its xlmigd), waited for, checked (its Xen and libxlmig\n" \
      "versions), enabled.  Stops at the first failure and says where and\n" \
      "how to go on (the same command again).  While it runs (and after a\n" \
      "stop) the pool is mid-upgrade: pool-join and vm-register are\n" \
      "refused, vm-start only on upgraded hosts\n" \
      "(NOT_SUPPORTED_DURING_UPGRADE).  docs/specs/rolling-upgrade.md\n" \
      "  upgrade-command=CMD  what upgrades a host (/bin/sh -c, as root;\n" \
      "                 printable ASCII, at most 1024 bytes); a command\n" \
      "                 that reboots the host must not return before\n" \
      "                 the reboot begins\n" \
      "  version=V      the libxlmig version a host must reach (default:\n" \
      "                 the pool's newest, or what the first host comes\n" \
      "                 back with)\n" \
      "  xen-version=X  the Xen version a host must reach (same default)\n" \
      "  upgrade-timeout=S  seconds CMD may run, 1-86400 (default 3600)\n" \
      "  back-timeout=S     seconds for the host's xlmigd to answer after\n" \
      "                 CMD, 1-86400 (default 1200)\n" \
      "  sr=SR          the evacuations' sr= (as host-evacuate's)\n" \
      "  abandon=true   end the mid-upgrade state without upgrading the\n" \
      "                 rest; touches no host (only config= with it)\n" \
      XE_CONFIG_HELP }

#define XE_STATE_DIR_HELP \
    "  state-dir=DIR  where CPU records live (default $XLMIG_STATE_DIR or " \
    XLMIG__STATE_DIR_DEFAULT ")\n"

#define XE_CPU_COMMANDS \
    { "host-cpu-info", xe_cmd_host_cpu_info, xe_keys_host_cpu_info, \
      "Show what a host's CPU offers guests", false, \
      "Show what a host's CPU offers guests, with feature names.\n" \
      "  (no key)       this host, as Xen reports it (libxc); needs Xen\n" \
      "  host=NAME      the stored record of host NAME instead\n" \
      "  cpuid=true     this CPU's own CPUID instead, NOT Xen's view (works\n" \
      "                 without Xen; for comparison only)\n" \
      XE_STATE_DIR_HELP \
      "Fields: name-label source vendor features features_names\n" \
      "  features_pv_max features_hvm_max features_pv_default\n" \
      "  features_hvm_default recorded (those that apply)" }, \
    { "host-cpu-record", xe_cmd_host_cpu_record, xe_keys_host_cpu_record, \
      "Record this host's CPU for the pool", false, \
      "Record this host's CPU (Xen's vendor, PV max and HVM max\n" \
      "featuresets) as STATE/hosts/NAME.json, for pool levelling and checks.\n" \
      "  host=NAME      the host's name (default: its hostname)\n" \
      "  file=PATH      also write a copy there (to take to other hosts)\n" \
      XE_STATE_DIR_HELP \
      "Needs Xen.  Prints the record's path." }, \
    { "host-cpu-import", xe_cmd_host_cpu_import, xe_keys_host_cpu_import, \
      "Check and store another host's CPU record", false, \
      "Check and store another host's record (from host-cpu-record file=).\n" \
      "  file=PATH      the record (required)\n" \
      XE_STATE_DIR_HELP \
      "Prints the host's name." }, \
    { "pool-cpu-info", xe_cmd_pool_cpu_info, xe_keys_pool_cpu_info, \
      "The pool's common CPU level", false, \
      "The pool's CPU level from the stored host records: their common\n" \
      "vendor and the intersection of their PV and HVM featuresets; then,\n" \
      "for each host, the features the pool would regain without it.\n" \
      "  host=NAME      only say what host NAME (a stored record, member or\n" \
      "                 not) lowers the level of the others by\n" \
      "  file=PATH      a joining host's record (not stored): what it would\n" \
      "                 lower the level by; HOSTS_NOT_HOMOGENEOUS if its\n" \
      "                 vendor differs\n" \
      XE_STATE_DIR_HELP \
      "Fields: hosts vendor features_pv features_hvm; per host: name-label\n" \
      "  lowers_pv lowers_hvm" }, \
    { "vm-cpu-record", xe_cmd_vm_cpu_record, xe_keys_vm_cpu_record, \
      "Record the CPU a running VM booted with", false, \
      "Record the CPU running VM NAME booted with (vendor and featureset\n" \
      "of its domain's CPU policy: xapi's last_boot_CPU_flags) as\n" \
      "STATE/vms/NAME.json.  Migrations through 'xlmig channel-send --vm'\n" \
      "carry the record to the destination.\n" \
      "  vm=NAME        the VM (required)\n" \
      XE_STATE_DIR_HELP \
      "Needs Xen." }, \
    { "vm-cpu-check", xe_cmd_vm_cpu_check, xe_keys_vm_cpu_check, \
      "May a VM's CPU move to a host?", false, \
      "May VM NAME move to host H?  Same vendor, and the features it\n" \
      "booted with all offered by H (HVM/PVH: H's HVM max featureset, PV:\n" \
      "its PV max).  Refused with VM_INCOMPATIBLE_WITH_THIS_HOST naming\n" \
      "the missing features, and the pool level that every stored host\n" \
      "offers (boot the VM with at most that to move it anywhere).\n" \
      "  vm=NAME        the VM (required); its record, or read from Xen\n" \
      "                 and recorded when first seen\n" \
      "  host=H         the destination's stored record (required)\n" \
      "  force=true     do not refuse; say what is missing\n" \
      "  records-only=true  use the stored records without asking Xen\n" \
      "                 whether the VM runs (planning elsewhere); otherwise\n" \
      "                 a VM that does not run is halted and not checked\n" \
      XE_STATE_DIR_HELP }

/*
 * A connection to one host's xlmigd, for the VM commands (cmd-vm.c,
 * cmd-batch.c).
 */
struct xe_vm_session {
    libxlmig_ctx *ctx;
    struct xlmig__pool_conf conf;
    libxlmig_transport *t;          /* to the host */
    int fd;
    char host[65];
    char addr[256];
    uint64_t id;
    char err[1200];                 /* the last error a daemon answered */
};

/* The session's context and configuration (config= of @a). */
int xe_vm_session_open(struct xe_vm_session *s, const struct xe_args *a);
/* Its connection and context; after a failed open too. */
void xe_vm_session_free(struct xe_vm_session *s);
/* (Re)connect to host @name's xlmigd at @addr. */
int xe_vm_connect(struct xe_vm_session *s, const char *name,
                  const char *addr);
/* A call; a daemon's refusal is kept as it said it, for say_error. */
int xe_vm_call(struct xe_vm_session *s, const char *method,
               const char *const *kv, struct xlmig__rpc_msg *resp);
/* The last error on stderr (the daemon's, or @rc's); exit status 1. */
int xe_vm_say_error(struct xe_vm_session *s, int rc);
/*
 * The host of VM @vm: this host first, then every host of the pool.
 * Leaves the session connected to it.
 */
int xe_vm_locate(struct xe_vm_session *s, const char *vm);
/* key=true|false of @a, @dflt when absent; else said, *ok false. */
bool xe_bool_arg(const struct xe_args *a, const char *key, bool dflt,
                 bool *ok);

/* A migration task as vm.task gives it. */
struct xe_task_view {
    char phase[32], state[16], error[64], message[600], destination[65];
    char vm[130];
    uint64_t progress, downtime_ms, total_ms, wire, stream;
};
int xe_vm_task_get(struct xe_vm_session *s, const char *task,
                   struct xe_task_view *v);

/* The VM commands (cmd-vm.c). */
int xe_cmd_vm_migrate(const struct xe_args *a);
int xe_cmd_vm_assert_can_migrate(const struct xe_args *a);
int xe_cmd_vm_list(const struct xe_args *a);
int xe_cmd_vm_register(const struct xe_args *a);
int xe_cmd_vm_start(const struct xe_args *a);
int xe_cmd_vm_retrieve_wlb_recommendations(const struct xe_args *a);
extern const char *const xe_keys_vm_migrate[];
extern const char *const xe_keys_vm_wlb[];
extern const char *const xe_keys_vm_list[];
extern const char *const xe_keys_vm_one[];

/* Many VMs at once (cmd-batch.c). */
bool xe_vm_is_list(const char *vm);
int xe_cmd_vm_migrate_many(const struct xe_args *a, bool check);
int xe_cmd_host_evacuate(const struct xe_args *a);
int xe_cmd_host_get_vms_which_prevent_evacuation(const struct xe_args *a);
extern const char *const xe_keys_host_evacuate[];
extern const char *const xe_keys_host_prevent[];
/*
 * host-evacuate of @host as the command does it (sr= @sr when not NULL,
 * every VM or none: no skip-unmovable), its lines on stdout and stderr;
 * *@moved_r the VMs moved, also on failure; @why (@cap bytes) the first
 * reason of a failure.  An XLMIG__EXIT_* status.
 */
int xe_host_evacuate(const struct xe_args *a, const char *host,
                     const char *sr, unsigned *moved_r, char *why,
                     size_t cap);

/* The rolling pool upgrade (cmd-rolling.c). */
int xe_cmd_pool_rolling_upgrade(const struct xe_args *a);
extern const char *const xe_keys_pool_rolling_upgrade[];

#define XE_BATCH_COMMANDS \
    { "host-evacuate", xe_cmd_host_evacuate, xe_keys_host_evacuate, \
      "Move every running VM off a host", false, \
      "Move every running VM of host NAME to other hosts of the pool:\n" \
      "each VM's destination planned before the first moves (memory\n" \
      "accounted, as vm-migrate without host= places, the wlb-hook\n" \
      "asked per VM), the host disabled (host-disable), then each VM its\n" \
      "own migration in the slots' priority lane, within the pool's\n" \
      "migration-concurrency.  Refused at once, nothing moved and the\n" \
      "host not disabled, when a VM has nowhere to go (each named, with\n" \
      "why), or when NAME is the last enabled host (NO_HOSTS_AVAILABLE).\n" \
      "Halted VMs stay (as xapi), said at the end.  One line per change\n" \
      "of a VM's phase, then moved, refused, failed; exit 0 only when\n" \
      "every running VM left.\n" \
      "  host=NAME      (required)\n" \
      "  skip-unmovable=true  move the VMs that can go, report the others\n" \
      "                 refused (default false: refuse the evacuation)\n" \
      "  sr=SR          move every disk of each VM to the SR of that name\n" \
      "                 (or uuid) of its destination; default: disks stay\n" \
      "                 on their SRs, which the destination must have\n" \
      "  --minimal      only the tasks' uuids, comma-separated\n" \
      XE_CONFIG_HELP }, \
    { "host-get-vms-which-prevent-evacuation", \
      xe_cmd_host_get_vms_which_prevent_evacuation, xe_keys_host_prevent, \
      "Which VMs could not leave a host", false, \
      "The running VMs of host NAME that an evacuation could not move\n" \
      "now, planned as host-evacuate plans them (nothing moves, the host\n" \
      "is not disabled): one record each, uuid, name-label and every\n" \
      "reason (NAME: sentence: CPU, memory, a disk without an SR to go\n" \
      "to, a device no migration takes, ...).  Nothing printed when every\n" \
      "VM could go.  Exit 0 either way; 1 only when the request fails.\n" \
      "  host=NAME      (required)\n" \
      "  sr=SR          as host-evacuate's\n" \
      "  --minimal      only the VMs' uuids, comma-separated\n" \
      XE_CONFIG_HELP }

#define XE_VM_MIGRATE_ARGS \
    "  vm=NAME|UUID   the VM (required); found on any host of the pool\n" \
    "  vm=A,B,C or vm=@FILE  a list of VMs (FILE: one a line, # comments;\n" \
    "                 at most 64): each VM its own migration, planned\n" \
    "                 together (memory accounted), a summary at the end;\n" \
    "                 an unknown VM or one named twice refuses the list\n" \
    "                 (nothing moves); not with vdi:, vif:, copy=true or\n" \
    "                 another pool\n" \
    "  host=NAME      the destination host (host-uuid= the same); without\n" \
    "                 it the VM is placed: the first host of\n" \
    "                 vm-retrieve-wlb-recommendations (the pool's wlb-hook,\n" \
    "                 or the most free memory), NO_HOSTS_AVAILABLE if none\n" \
    "  vdi:VDI=SR     move VDI (a disk of the VM) to SR of the destination\n" \
    "                 (uuid or name; placed: a host without that SR is\n" \
    "                 not a candidate); a disk not named stays on its SR,\n" \
    "                 which the destination must have too\n" \
    "  sr=SR          every disk not named by vdi: moves to SR (uuid or\n" \
    "                 name) of the destination (placed: of each\n" \
    "                 candidate; a list: of each VM's destination)\n" \
    "  vif:MAC=BRIDGE  the VIF's bridge at the destination (default:\n" \
    "                 same)\n" \
    "  remote-master=HOST:PORT remote-config=FILE  another pool: its\n" \
    "                 master, and a pool configuration of that pool (its\n" \
    "                 pool-uuid and TLS credentials)\n" \
    "  compress=true|false  the memory stream zstd-compressed (default:\n" \
    "                 the pool's migration-compression)\n" \
    "  copy=true      a halted VM only: copy it, keep the original\n" \
    "  force=true     report CPU check failures and go on\n" \
    "  live=true      a running VM moves live (the only way)\n" \
    "  bwlimit=RATE   cap on the wire, in\n" \
    "                 " XLMIG__RATE_HELP "\n" \
    XE_CONFIG_HELP

#define XE_VM_COMMANDS \
    { "vm-migrate", xe_cmd_vm_migrate, xe_keys_vm_migrate, \
      "Move a VM, memory and disks, to another host", false, \
      "Move a VM, memory and disks, to another host of this pool or of\n" \
      "another pool: every check first, a slot of the pool's migration\n" \
      "limit, the disks by storage motion, the memory live through the\n" \
      "stream channel, and everything undone on any failure.  Prints the\n" \
      "task's uuid, then its phase and percent until it ends; interrupted,\n" \
      "the migration goes on (task-cancel uuid= stops it).\n" \
      XE_VM_MIGRATE_ARGS \
      "Placed (no host=), it says which host and why after the uuid.\n" \
      "A list: each VM's task and destination (or why it is refused),\n" \
      "one line per change of a VM's phase, then a summary (moved,\n" \
      "refused, failed); exit 1 if any VM was refused or failed.\n" \
      "  --minimal      only the task's uuid (a list: the uuids)" }, \
    { "vm-assert-can-migrate", xe_cmd_vm_assert_can_migrate, \
      xe_keys_vm_migrate, \
      "Every check of vm-migrate, nothing moved", false, \
      "Every check of vm-migrate, nothing moved: each failure on its own\n" \
      "line, by its stable name (VM_INCOMPATIBLE_WITH_THIS_HOST,\n" \
      "HOST_NOT_ENOUGH_FREE_MEMORY, VDI_NOT_IN_MAP, ...); exit 1 if any.\n" \
      "Without host=: the host placement chooses, or NO_HOSTS_AVAILABLE\n" \
      "and every host's refusals.\n" \
      XE_VM_MIGRATE_ARGS }, \
    { "vm-retrieve-wlb-recommendations", \
      xe_cmd_vm_retrieve_wlb_recommendations, xe_keys_vm_wlb, \
      "Where a VM would go without host=", false, \
      "Where VM NAME would go without host=: one line per host of the\n" \
      "pool, the hosts that can take it best first, each with the source\n" \
      "of the ranking (wlb-hook: the pool's balancer; built-in: the most\n" \
      "free memory), its score and reason; then the hosts that cannot\n" \
      "take it, each with what it failed (refused: NAME: why).  When the\n" \
      "wlb-hook failed, its error (WLB_TIMEOUT, WLB_MALFORMED_RESPONSE,\n" \
      "WLB_INTERNAL_ERROR) is said on stderr and the built-in ranking\n" \
      "shown.  Nothing moves.  Exit 0 also when no host can take it.\n" \
      "  vm=NAME|UUID   the VM (required); found on any host of the pool\n" \
      "  vdi:VDI=SR, vif:MAC=BRIDGE, sr=SR  as vm-migrate's\n" \
      "  --minimal      only the ranked hosts' names, comma-separated\n" \
      XE_CONFIG_HELP }, \
    { "vm-list", xe_cmd_vm_list, xe_keys_vm_list, \
      "List the pool's VMs", true, \
      "The VMs of every host of the pool, running or halted (recorded).\n" \
      "Fields: uuid name-label power-state resident-on dom-id\n" \
      "  memory-static-max (MiB)\n" XE_CONFIG_HELP XE_JSON_HELP }, \
    { "vm-register", xe_cmd_vm_register, xe_keys_vm_one, \
      "Record a VM running on this host", false, \
      "Record a VM running on this host (its libxl configuration), so\n" \
      "that it stays known when halted: vm-list, vm-migrate, vm-start.\n" \
      "  vm=NAME|UUID   (required)\n" XE_CONFIG_HELP }, \
    { "vm-start", xe_cmd_vm_start, xe_keys_vm_one, \
      "Boot a halted VM from its record", false, \
      "Boot a halted VM from its record, on the host that has it.\n" \
      "  vm=NAME|UUID   (required)\n" XE_CONFIG_HELP }

/* The storage commands (cmd-sr.c). */
int xe_cmd_sr_create(const struct xe_args *a);
int xe_cmd_sr_forget(const struct xe_args *a);
int xe_cmd_sr_list(const struct xe_args *a);
int xe_cmd_vdi_create(const struct xe_args *a);
int xe_cmd_vdi_destroy(const struct xe_args *a);
int xe_cmd_vdi_list(const struct xe_args *a);
int xe_cmd_vdi_param_set(const struct xe_args *a);
int xe_cmd_vbd_create(const struct xe_args *a);
int xe_cmd_vbd_destroy(const struct xe_args *a);
int xe_cmd_vbd_list(const struct xe_args *a);
int xe_cmd_vdi_copy(const struct xe_args *a);
int xe_cmd_vdi_pool_migrate(const struct xe_args *a);
extern const char *const xe_keys_vdi_copy[];
extern const char *const xe_keys_vdi_pool_migrate[];
extern const char *const xe_keys_sr_create[];
extern const char *const xe_keys_sr_forget[];
extern const char *const xe_keys_sr_list[];
extern const char *const xe_keys_vdi_create[];
extern const char *const xe_keys_vdi_destroy[];
extern const char *const xe_keys_vdi_list[];
extern const char *const xe_keys_vdi_param_set[];
extern const char *const xe_keys_vbd_create[];
extern const char *const xe_keys_vbd_destroy[];
extern const char *const xe_keys_vbd_list[];

#define XE_SR_STATE_HELP \
    "  state-dir=DIR  where SRs are registered (default $XLMIG_STATE_DIR\n" \
    "                 or " XLMIG__STATE_DIR_DEFAULT ")\n"

#define XE_SR_COMMANDS \
    { "sr-create", xe_cmd_sr_create, xe_keys_sr_create, \
      "Register a storage repository", false, \
      "Register a storage repository: a directory of VDI images\n" \
      "(UUID.qcow2, UUID.raw) with their metadata (UUID.json).\n" \
      "  name-label=NAME          the SR's name (required; 1 to 64 of\n" \
      "                           A-Z a-z 0-9 . _ -)\n" \
      "  type=file                the only type (default)\n" \
      "  device-config:path=DIR   absolute, without . or ..; made when\n" \
      "                           missing (its parent must exist)\n" \
      "  capabilities=A,B         of VDI_SNAPSHOT, VDI_MIRROR,\n" \
      "                           VDI_MIRROR_IN (default all three)\n" \
      XE_SR_STATE_HELP "Prints the new SR's uuid." }, \
    { "sr-forget", xe_cmd_sr_forget, xe_keys_sr_forget, \
      "Unregister a storage repository", false, \
      "Unregister an SR; its directory and images stay as they are.\n" \
      "  uuid=UUID      the SR (required)\n" XE_SR_STATE_HELP }, \
    { "sr-list", xe_cmd_sr_list, xe_keys_sr_list, \
      "List the registered SRs", true, \
      "The registered SRs, with the space of their file systems (bytes).\n" \
      "  uuid=, name-label=   only the SRs that match\n" \
      "  --minimal      only the uuids (or the params= fields),\n" \
      "                 comma-separated on one line\n" \
      XE_JSON_HELP XE_SR_STATE_HELP \
      "Fields: uuid name-label type path physical-size physical-utilisation\n" \
      "  free-space capabilities" }, \
    { "vdi-create", xe_cmd_vdi_create, xe_keys_vdi_create, \
      "Create an empty VDI", false, \
      "Create an empty VDI with qemu-img.\n" \
      "  sr-uuid=SR     the SR, by uuid or name-label (required)\n" \
      "  name-label=NAME  (required)\n" \
      "  virtual-size=SIZE  bytes, or with k/M/G/T (binary: 10G = 10GiB);\n" \
      "                 1 byte to 64 TiB, rounded up to 512 (required)\n" \
      "  format=qcow2|raw  (default qcow2)\n" \
      XE_SR_STATE_HELP "Prints the new VDI's uuid." }, \
    { "vdi-destroy", xe_cmd_vdi_destroy, xe_keys_vdi_destroy, \
      "Destroy a VDI", false, \
      "Destroy a VDI: its image and metadata.  Refused (VDI_IN_USE) while\n" \
      "its lock file UUID.lock exists or a VM has a VBD on it.\n" \
      "  uuid=UUID      the VDI (required)\n" XE_SR_STATE_HELP }, \
    { "vdi-list", xe_cmd_vdi_list, xe_keys_vdi_list, \
      "List the VDIs", true, \
      "The VDIs, with their sizes as qemu-img reports them (bytes).\n" \
      "  sr-uuid=SR     only those of this SR (uuid or name-label)\n" \
      "  uuid=, name-label=   only the VDIs that match\n" \
      "  --minimal      only the uuids (or the params= fields),\n" \
      "                 comma-separated on one line\n" \
      XE_JSON_HELP XE_SR_STATE_HELP \
      "Fields: uuid name-label sr-uuid virtual-size physical-utilisation\n" \
      "  format on-boot sharable cbt-enabled encrypted vbds" }, \
    { "vdi-param-set", xe_cmd_vdi_param_set, xe_keys_vdi_param_set, \
      "Change a VDI's flags", false, \
      "Change a VDI's flags (at least one).  Storage migration refuses a\n" \
      "VDI with on-boot=reset, cbt-enabled=true or encrypted=true.\n" \
      "  uuid=UUID      the VDI (required)\n" \
      "  on-boot=persist|reset  reset: changes are dropped at each boot\n" \
      "  cbt-enabled=true|false  changed block tracking\n" \
      "  encrypted=true|false\n" \
      "  sharable=true|false  may several VMs use it (false is refused\n" \
      "                 while VBDs of two VMs are on it)\n" \
      XE_SR_STATE_HELP }, \
    { "vbd-create", xe_cmd_vbd_create, xe_keys_vbd_create, \
      "Record that a VM uses a VDI", false, \
      "Record that a VM uses a VDI as a device (kept in the VDI's\n" \
      "metadata; at most 16 VBDs per VDI).  Refused with VDI_IN_USE when\n" \
      "another VM has the VDI and it is not sharable.\n" \
      "  vm=NAME        the VM (required; 1 to 64 of A-Z a-z 0-9 . _ -)\n" \
      "  vdi-uuid=UUID  the VDI (required)\n" \
      "  device=DEV     xvd, hd or sd, letters, optionally a partition\n" \
      "                 number: xvda, hdb, sdc1 (required; one VDI per\n" \
      "                 device of a VM)\n" \
      XE_SR_STATE_HELP }, \
    { "vbd-destroy", xe_cmd_vbd_destroy, xe_keys_vbd_destroy, \
      "Record that a VM no longer uses a VDI", false, \
      "Record that a VM no longer uses a VDI.\n" \
      "  vm=NAME        the VM (required)\n" \
      "  vdi-uuid=UUID  the VDI (required)\n" XE_SR_STATE_HELP }, \
    { "vbd-list", xe_cmd_vbd_list, xe_keys_vbd_list, \
      "List which VMs use which VDIs", true, \
      "Which VMs use which VDIs.\n" \
      "  vdi-uuid=, vm=   only the VBDs that match\n" \
      "  --minimal      only the VDI uuids (or the params= fields),\n" \
      "                 comma-separated on one line\n" \
      XE_JSON_HELP XE_SR_STATE_HELP \
      "Fields: vm device vdi-uuid vdi-name-label sr-uuid" }, \
    { "vdi-copy", xe_cmd_vdi_copy, xe_keys_vdi_copy, \
      "Copy a VDI to another SR of this host", false, \
      "Copy a VDI that no running VM writes to another SR of this host,\n" \
      "allocated extents only, optionally changing its format.\n" \
      "  uuid=UUID      the VDI (required)\n" \
      "  sr-uuid=SR     the SR to copy it to (required; uuid or name)\n" \
      "  format=F       qcow2 or raw (default: the VDI's own)\n" \
      "  bwlimit=RATE   " XLMIG__RATE_HELP "\n" \
      XE_SR_STATE_HELP "Prints the new VDI's uuid." }, \
    { "vdi-pool-migrate", xe_cmd_vdi_pool_migrate, xe_keys_vdi_pool_migrate, \
      "Move a VDI to another SR of this host", false, \
      "Move a VDI to another SR of this host; the VDI gets a new uuid,\n" \
      "keeps its name, flags and VBDs; the old one is destroyed.\n" \
      "  uuid=UUID      the VDI (required)\n" \
      "  sr-uuid=SR     the SR to move it to (required; uuid or name)\n" \
      "  format=F       qcow2 or raw (default: the VDI's own)\n" \
      "  qmp=SOCKET     the QMP socket of the QEMU serving it when its VM\n" \
      "                 runs: a live move (snapshot, mirror, copy, switch)\n" \
      "  vm=NAME        that VM (its VBD)\n" \
      "  switch-file=F  live: switch once in sync and F exists (the guest\n" \
      "                 is paused by then); default: at once when in sync\n" \
      "  bwlimit=RATE   cap of the copy and of the mirror, in\n" \
      "                 " XLMIG__RATE_HELP "\n" \
      XE_SR_STATE_HELP "Prints the new VDI's uuid." }

#endif /* XLMIG_XE_CMD_H */
