/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The table of stable error names.  Where xapi has an error with the same
 * meaning its name is kept (xen-api ocaml/xapi-consts/api_errors.ml), so
 * that scripts written for xe keep matching.  docs/errors.md lists them
 * with what the operator should do; a unit test checks that it names
 * every entry.
 */
#include <string.h>

#include "internal.h"

struct error_entry {
    int code;
    const char *name;
    const char *text;
};

static const struct error_entry error_table[] = {
    { LIBXLMIG_OK, "SUCCESS", "success" },
    { LIBXLMIG_ERR_INTERNAL, "INTERNAL_ERROR",
      "internal error in libxlmig" },
    { LIBXLMIG_ERR_INVALID_ARGUMENT, "INVALID_VALUE",
      "a value given is not valid" },
    { LIBXLMIG_ERR_NO_MEMORY, "OUT_OF_MEMORY",
      "the toolstack process ran out of memory" },
    { LIBXLMIG_ERR_NO_HYPERVISOR, "XEN_NOT_AVAILABLE",
      "the Xen hypervisor is not available on this machine" },
    { LIBXLMIG_ERR_XEN_CALL_FAILED, "XEN_CALL_FAILED",
      "a call into libxl or libxc failed" },
    { LIBXLMIG_ERR_PERMISSION_DENIED, "PERMISSION_DENIED",
      "permission denied" },
    { LIBXLMIG_ERR_NOT_FOUND, "NOT_FOUND", "no such object" },
    { LIBXLMIG_ERR_IO, "IO_ERROR", "an input/output operation failed" },
    { LIBXLMIG_ERR_PROTOCOL, "PROTOCOL_ERROR",
      "the peer sent something that breaks the protocol" },
    { LIBXLMIG_ERR_CANCELLED, "TASK_CANCELLED", "the task was cancelled" },
    { LIBXLMIG_ERR_TIMEOUT, "TIMEOUT", "the operation timed out" },
    { LIBXLMIG_ERR_UNSUPPORTED, "NOT_SUPPORTED",
      "the operation is not supported here" },
    { LIBXLMIG_ERR_AUTH_FAILED, "SESSION_AUTHENTICATION_FAILED",
      "the peer failed authentication" },
    { LIBXLMIG_ERR_TOO_MANY_MIGRATIONS, "TOO_MANY_MIGRATIONS",
      "the pool's limit of concurrent migrations is reached" },
    { LIBXLMIG_ERR_VDI_NOT_IN_MAP, "VDI_NOT_IN_MAP",
      "a VDI of the VM has no destination SR" },
    { LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION,
      "SR_DOES_NOT_SUPPORT_MIGRATION",
      "the SR lacks the capabilities storage migration needs" },
    { LIBXLMIG_ERR_VM_HOST_INCOMPATIBLE_VERSION_MIGRATE,
      "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE",
      "the destination runs an older Xen or platform version" },
    { LIBXLMIG_ERR_HOST_DISABLED, "HOST_DISABLED",
      "the host is disabled" },
    { LIBXLMIG_ERR_HOST_NOT_ENOUGH_PCPUS, "HOST_NOT_ENOUGH_PCPUS",
      "the host has fewer physical CPUs than the VM has vCPUs" },
    { LIBXLMIG_ERR_HOST_NOT_ENOUGH_FREE_MEMORY,
      "HOST_NOT_ENOUGH_FREE_MEMORY",
      "the host does not have enough free memory for the VM" },
    { LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
      "VM_INCOMPATIBLE_WITH_THIS_HOST",
      "the host's CPU vendor or features do not cover the VM's" },
    { LIBXLMIG_ERR_VDI_CBT_ENABLED, "VDI_CBT_ENABLED",
      "changed block tracking is enabled on the VDI" },
    { LIBXLMIG_ERR_VDI_IS_ENCRYPTED, "VDI_IS_ENCRYPTED",
      "the VDI is encrypted" },
    { LIBXLMIG_ERR_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION,
      "VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION",
      "the VDI's on-boot mode is reset" },
    { LIBXLMIG_ERR_VM_HAS_PCI_ATTACHED, "VM_HAS_PCI_ATTACHED",
      "the VM has a PCI device passed through" },
    { LIBXLMIG_ERR_VM_HAS_VGPU, "VM_HAS_VGPU", "the VM has a vGPU" },
    { LIBXLMIG_ERR_VM_HAS_VUSBS, "VM_HAS_VUSBS",
      "the VM has USB devices passed through" },
    { LIBXLMIG_ERR_VM_BAD_POWER_STATE, "VM_BAD_POWER_STATE",
      "the VM is not in a power state that allows the operation" },
    { LIBXLMIG_ERR_SR_SOURCE_SPACE_INSUFFICIENT,
      "SR_SOURCE_SPACE_INSUFFICIENT",
      "the source SR has no room for the temporary snapshot" },
    { LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT,
      "SR_DESTINATION_SPACE_INSUFFICIENT",
      "the destination SR has no room for the VDI" },
    { LIBXLMIG_ERR_MIRROR_FAILED, "MIRROR_FAILED",
      "mirroring the disk to the destination failed" },
    { LIBXLMIG_ERR_VDI_IN_USE, "VDI_IN_USE",
      "the VDI is in use by another VM" },
    { LIBXLMIG_ERR_FEATURESET_INVALID, "INVALID_FEATURE_STRING",
      "a CPU featureset string is malformed" },
    { LIBXLMIG_ERR_VENDOR_INVALID, "INVALID_CPU_VENDOR",
      "a CPU vendor name is malformed or unknown" },
    { LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS, "HOSTS_NOT_HOMOGENEOUS",
      "the hosts of a pool have different CPU vendors" },
    { LIBXLMIG_ERR_RECORD_INVALID, "CPU_RECORD_INVALID",
      "a CPU record file of a host or VM is malformed" },
    { LIBXLMIG_ERR_POOL_STATE_INVALID, "POOL_STATE_INVALID",
      "the pool state file of the pool master is malformed" },
    { LIBXLMIG_ERR_QMP_ERROR, "QMP_ERROR",
      "QEMU refused a QMP command" },
    { LIBXLMIG_ERR_SXM_RECORD_INVALID, "SXM_RECORD_INVALID",
      "a storage motion task's record is malformed" },
    { LIBXLMIG_ERR_CANNOT_CONTACT_HOST, "CANNOT_CONTACT_HOST",
      "a host or a remote pool's master cannot be reached" },
    { LIBXLMIG_ERR_HOST_CANNOT_SEE_SR, "HOST_CANNOT_SEE_SR",
      "the destination host lacks the SR a disk is on or is mapped to" },
    { LIBXLMIG_ERR_BRIDGE_NOT_AVAILABLE, "BRIDGE_NOT_AVAILABLE",
      "a network bridge a VIF needs is not on the destination" },
    { LIBXLMIG_ERR_VM_HAS_SRIOV_VIF, "VM_HAS_SRIOV_VIF",
      "the VM has an SR-IOV virtual function passed through" },
    { LIBXLMIG_ERR_VM_IS_USING_NESTED_VIRT, "VM_IS_USING_NESTED_VIRT",
      "the VM runs with nested virtualisation" },
    { LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS, "OTHER_OPERATION_IN_PROGRESS",
      "the VM is being migrated already" },
    { LIBXLMIG_ERR_VM_MIGRATE_FAILED, "VM_MIGRATE_FAILED",
      "moving the VM's memory or switching it to the destination failed" },
    { LIBXLMIG_ERR_MIGRATE_RECORD_INVALID, "MIGRATE_RECORD_INVALID",
      "the journal of a migration task is malformed" },
    { LIBXLMIG_ERR_MIGRATION_OUTCOME_UNKNOWN, "MIGRATION_OUTCOME_UNKNOWN",
      "the destination cannot say whether it took the VM" },
    { LIBXLMIG_ERR_WLB_TIMEOUT, "WLB_TIMEOUT",
      "the workload balancer (wlb-hook) did not answer in time" },
    { LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE, "WLB_MALFORMED_RESPONSE",
      "the workload balancer's answer is not what the protocol asks" },
    { LIBXLMIG_ERR_WLB_INTERNAL_ERROR, "WLB_INTERNAL_ERROR",
      "the workload balancer could not run or exited with an error" },
    { LIBXLMIG_ERR_NO_HOSTS_AVAILABLE, "NO_HOSTS_AVAILABLE",
      "no host can take the VM" },
    { LIBXLMIG_ERR_NOT_SUPPORTED_DURING_UPGRADE,
      "NOT_SUPPORTED_DURING_UPGRADE",
      "the operation is not supported while the pool is mid-upgrade" },
    { LIBXLMIG_ERR_UPDATE_APPLY_FAILED, "UPDATE_APPLY_FAILED",
      "the upgrade command failed on the host" },
    { LIBXLMIG_ERR_UPDATE_APPLY_TIMEOUT, "UPDATE_APPLY_TIMEOUT",
      "the upgrade command ran past its time limit and was killed" },
    { LIBXLMIG_ERR_HOST_NOT_BACK_AFTER_UPGRADE,
      "HOST_NOT_BACK_AFTER_UPGRADE",
      "the host's xlmigd did not answer again in time after its upgrade" },
    { LIBXLMIG_ERR_HOST_NOT_UPGRADED, "HOST_NOT_UPGRADED",
      "the host came back without a newer version after its upgrade" },
};

#define ERROR_TABLE_LEN (sizeof(error_table) / sizeof(error_table[0]))

static const struct error_entry *error_lookup(int rc)
{
    size_t i;

    for (i = 0; i < ERROR_TABLE_LEN; i++) {
        if (error_table[i].code == rc)
            return &error_table[i];
    }
    return NULL;
}

const char *libxlmig_strerror_name(int rc)
{
    const struct error_entry *e = error_lookup(rc);

    return e ? e->name : "UNKNOWN_ERROR";
}

const char *libxlmig_strerror(int rc)
{
    const struct error_entry *e = error_lookup(rc);

    return e ? e->text : "unknown error code";
}

int libxlmig_error_from_name(const char *name, int *rc_r)
{
    size_t i;

    if (!name || !rc_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    for (i = 0; i < ERROR_TABLE_LEN; i++) {
        if (!strcmp(error_table[i].name, name)) {
            *rc_r = error_table[i].code;
            return 0;
        }
    }
    return LIBXLMIG_ERR_INVALID_ARGUMENT;
}

size_t xlmig__error_count(void)
{
    return ERROR_TABLE_LEN;
}

int xlmig__error_code_at(size_t i)
{
    return i < ERROR_TABLE_LEN ? error_table[i].code : LIBXLMIG_ERR_INTERNAL;
}
