//! Host-facing argument and result types of qemu-ga's schema, with its exact
//! member names. Argument structs deny unknown members; optional members are
//! `Option`s so a missing one and a present one stay distinguishable.

use serde::{Deserialize, Serialize};

// ---- protocol commands ------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncArgs {
    pub id: i64,
}

#[derive(Debug, Serialize)]
pub struct GuestAgentCommandInfo {
    pub name: String,
    pub enabled: bool,
    #[serde(rename = "success-response")]
    pub success_response: bool,
}

#[derive(Debug, Serialize)]
pub struct GuestAgentInfo {
    pub version: String,
    pub supported_commands: Vec<GuestAgentCommandInfo>,
}

/// Arguments of a command that takes none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

// ---- time -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTimeArgs {
    pub time: Option<i64>,
}

// ---- power ------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownArgs {
    pub mode: Option<String>,
}

// ---- files ------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOpenArgs {
    pub path: String,
    pub mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHandleArgs {
    pub handle: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileReadArgs {
    pub handle: i64,
    pub count: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct GuestFileRead {
    pub count: i64,
    #[serde(rename = "buf-b64")]
    pub buf_b64: String,
    pub eof: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWriteArgs {
    pub handle: i64,
    #[serde(rename = "buf-b64")]
    pub buf_b64: String,
    pub count: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct GuestFileWrite {
    pub count: i64,
    pub eof: bool,
}

/// `whence` is an integer (0, 1, 2) or one of qemu-ga's names.
#[derive(Debug)]
pub enum GuestFileWhence {
    Value(i64),
    Name(QGASeek),
}

impl<'de> Deserialize<'de> for GuestFileWhence {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct WhenceVisitor;
        impl<'de> serde::de::Visitor<'de> for WhenceVisitor {
            type Value = GuestFileWhence;
            // The type name qemu-ga reports for a value that is neither a
            // number nor a string.
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("GuestFileWhence")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(GuestFileWhence::Value(v))
            }
            // A number that is not an int64 fails as qemu-ga's integer branch.
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Err(E::invalid_type(
                    serde::de::Unexpected::Unsigned(v),
                    &"integer",
                ))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::invalid_type(serde::de::Unexpected::Float(v), &"integer"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "set" => Ok(GuestFileWhence::Name(QGASeek::Set)),
                    "cur" => Ok(GuestFileWhence::Name(QGASeek::Cur)),
                    "end" => Ok(GuestFileWhence::Name(QGASeek::End)),
                    _ => Err(E::unknown_variant(v, &["set", "cur", "end"])),
                }
            }
        }
        d.deserialize_any(WhenceVisitor)
    }
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QGASeek {
    Set,
    Cur,
    End,
}

impl GuestFileWhence {
    /// qemu-ga's whence code: the names stand for 0, 1 and 2.
    pub fn code(&self) -> i64 {
        match self {
            GuestFileWhence::Value(v) => *v,
            GuestFileWhence::Name(QGASeek::Set) => 0,
            GuestFileWhence::Name(QGASeek::Cur) => 1,
            GuestFileWhence::Name(QGASeek::End) => 2,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSeekArgs {
    pub handle: i64,
    pub offset: i64,
    pub whence: GuestFileWhence,
}

#[derive(Debug, Serialize)]
pub struct GuestFileSeek {
    pub position: i64,
    pub eof: bool,
}

// ---- filesystems ------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestFsfreezeStatus {
    Thawed,
    Frozen,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsfreezeFreezeListArgs {
    pub mountpoints: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FstrimArgs {
    pub minimum: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct GuestFilesystemTrimResult {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trimmed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GuestFilesystemTrimResponse {
    pub paths: Vec<GuestFilesystemTrimResult>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestDiskBusType {
    Ide,
    Fdc,
    Scsi,
    Virtio,
    Xen,
    Usb,
    Uml,
    Sata,
    Sd,
    Unknown,
    Ieee1394,
    Ssa,
    Fibre,
    Raid,
    Iscsi,
    Sas,
    Mmc,
    Virtual,
    FileBackedVirtual,
    Nvme,
}

#[derive(Debug, Serialize)]
pub struct GuestPCIAddress {
    pub domain: i64,
    pub bus: i64,
    pub slot: i64,
    pub function: i64,
}

#[derive(Debug, Serialize)]
pub struct GuestDiskAddress {
    #[serde(rename = "pci-controller")]
    pub pci_controller: GuestPCIAddress,
    #[serde(rename = "bus-type")]
    pub bus_type: GuestDiskBusType,
    pub bus: i64,
    pub target: i64,
    pub unit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(rename = "ccw-address", skip_serializing_if = "Option::is_none")]
    pub ccw_address: Option<GuestCCWAddress>,
}

/// An s390 channel I/O address.
#[derive(Debug, Serialize)]
pub struct GuestCCWAddress {
    pub cssid: i64,
    pub ssid: i64,
    pub subchno: i64,
    pub devno: i64,
}

#[derive(Debug, Serialize)]
pub struct GuestFilesystemInfo {
    pub name: String,
    pub mountpoint: String,
    #[serde(rename = "type")]
    pub fs_type: String,
    #[serde(rename = "used-bytes", skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    #[serde(rename = "total-bytes", skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
    pub disk: Vec<GuestDiskAddress>,
}

#[derive(Debug, Serialize)]
pub struct GuestDiskInfo {
    pub name: String,
    pub partition: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<GuestDiskAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

// ---- network ----------------------------------------------------------------

#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestIpAddressType {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Serialize)]
pub struct GuestIpAddress {
    #[serde(rename = "ip-address")]
    pub ip_address: String,
    #[serde(rename = "ip-address-type")]
    pub ip_address_type: GuestIpAddressType,
    pub prefix: i64,
}

#[derive(Debug, Serialize)]
pub struct GuestNetworkInterfaceStat {
    #[serde(rename = "rx-bytes")]
    pub rx_bytes: u64,
    #[serde(rename = "rx-packets")]
    pub rx_packets: u64,
    #[serde(rename = "rx-errs")]
    pub rx_errs: u64,
    #[serde(rename = "rx-dropped")]
    pub rx_dropped: u64,
    #[serde(rename = "tx-bytes")]
    pub tx_bytes: u64,
    #[serde(rename = "tx-packets")]
    pub tx_packets: u64,
    #[serde(rename = "tx-errs")]
    pub tx_errs: u64,
    #[serde(rename = "tx-dropped")]
    pub tx_dropped: u64,
}

#[derive(Debug, Serialize)]
pub struct GuestNetworkInterface {
    pub name: String,
    #[serde(rename = "hardware-address", skip_serializing_if = "Option::is_none")]
    pub hardware_address: Option<String>,
    #[serde(rename = "ip-addresses", skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<GuestIpAddress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics: Option<GuestNetworkInterfaceStat>,
}

// ---- vCPUs ------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestLogicalProcessor {
    #[serde(rename = "logical-id")]
    pub logical_id: i64,
    pub online: bool,
    #[serde(rename = "can-offline", skip_serializing_if = "Option::is_none")]
    pub can_offline: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetVcpusArgs {
    pub vcpus: Vec<GuestLogicalProcessor>,
}

// ---- users ------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetUserPasswordArgs {
    pub username: String,
    pub password: String,
    pub crypted: bool,
}

// ---- memory blocks ----------------------------------------------------------

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestMemoryBlock {
    #[serde(rename = "phys-index")]
    pub phys_index: u64,
    pub online: bool,
    #[serde(rename = "can-offline", skip_serializing_if = "Option::is_none")]
    pub can_offline: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetMemoryBlocksArgs {
    #[serde(rename = "mem-blks")]
    pub mem_blks: Vec<GuestMemoryBlock>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GuestMemoryBlockResponseType {
    Success,
    NotFound,
    OperationNotSupported,
    OperationFailed,
}

#[derive(Debug, Serialize)]
pub struct GuestMemoryBlockResponse {
    #[serde(rename = "phys-index")]
    pub phys_index: u64,
    pub response: GuestMemoryBlockResponseType,
    #[serde(rename = "error-code", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct GuestMemoryBlockInfo {
    pub size: u64,
}

// ---- exec -------------------------------------------------------------------

/// What guest-exec captures (qemu-ga 8.0's `GuestExecCaptureOutputMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestExecCaptureOutputMode {
    None,
    Stdout,
    Stderr,
    /// Both, as `out-data` and `err-data`.
    Separated,
    /// Both, interleaved into `out-data`.
    Merged,
}

impl GuestExecCaptureOutputMode {
    pub const NAMES: &'static [&'static str] = &["none", "stdout", "stderr", "separated", "merged"];
}

/// `capture-output`: qemu-ga 7.2's boolean, or a mode name as qemu-ga 8.0
/// and later accept (`true` is `separated`, `false` is `none`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestExecCaptureOutput {
    Flag(bool),
    Mode(GuestExecCaptureOutputMode),
}

impl GuestExecCaptureOutput {
    pub fn mode(self) -> GuestExecCaptureOutputMode {
        match self {
            GuestExecCaptureOutput::Flag(true) => GuestExecCaptureOutputMode::Separated,
            GuestExecCaptureOutput::Flag(false) => GuestExecCaptureOutputMode::None,
            GuestExecCaptureOutput::Mode(m) => m,
        }
    }
}

impl<'de> Deserialize<'de> for GuestExecCaptureOutput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CaptureVisitor;
        impl serde::de::Visitor<'_> for CaptureVisitor {
            type Value = GuestExecCaptureOutput;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                // qemu-ga names the alternate type in its error.
                f.write_str("GuestExecCaptureOutput")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(GuestExecCaptureOutput::Flag(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                use GuestExecCaptureOutputMode::*;
                let mode = match v {
                    "none" => None,
                    "stdout" => Stdout,
                    "stderr" => Stderr,
                    "separated" => Separated,
                    "merged" => Merged,
                    _ => return Err(E::unknown_variant(v, GuestExecCaptureOutputMode::NAMES)),
                };
                Ok(GuestExecCaptureOutput::Mode(mode))
            }
        }
        d.deserialize_any(CaptureVisitor)
    }
}

// ---- system information -----------------------------------------------------
//
// These results travel from the helper to the front as postcard, which has
// no notion of a missing member, so optional members are plain `Option`s
// here; the front leaves out every `None` when it writes the JSON, as QAPI
// leaves out absent members.

/// A double carried bit for bit between the processes; a JSON number on the
/// wire, printed like C's `%.17g` by the front's writer.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Double(pub f64);

impl PartialEq for Double {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Double {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestHostName {
    #[serde(rename = "host-name")]
    pub host_name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestOSInfo {
    #[serde(rename = "kernel-release")]
    pub kernel_release: Option<String>,
    #[serde(rename = "kernel-version")]
    pub kernel_version: Option<String>,
    pub machine: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "pretty-name")]
    pub pretty_name: Option<String>,
    pub version: Option<String>,
    #[serde(rename = "version-id")]
    pub version_id: Option<String>,
    pub variant: Option<String>,
    #[serde(rename = "variant-id")]
    pub variant_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestTimezone {
    pub zone: Option<String>,
    /// Seconds east of UTC.
    pub offset: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestUser {
    pub user: String,
    /// Seconds since the epoch, with the microseconds as a fraction.
    #[serde(rename = "login-time")]
    pub login_time: Double,
    /// Windows only.
    pub domain: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestDiskStats {
    #[serde(rename = "read-sectors")]
    pub read_sectors: Option<u64>,
    #[serde(rename = "read-ios")]
    pub read_ios: Option<u64>,
    #[serde(rename = "read-merges")]
    pub read_merges: Option<u64>,
    #[serde(rename = "write-sectors")]
    pub write_sectors: Option<u64>,
    #[serde(rename = "write-ios")]
    pub write_ios: Option<u64>,
    #[serde(rename = "write-merges")]
    pub write_merges: Option<u64>,
    #[serde(rename = "discard-sectors")]
    pub discard_sectors: Option<u64>,
    #[serde(rename = "discard-ios")]
    pub discard_ios: Option<u64>,
    #[serde(rename = "discard-merges")]
    pub discard_merges: Option<u64>,
    #[serde(rename = "flush-ios")]
    pub flush_ios: Option<u64>,
    #[serde(rename = "read-ticks")]
    pub read_ticks: Option<u64>,
    #[serde(rename = "write-ticks")]
    pub write_ticks: Option<u64>,
    #[serde(rename = "discard-ticks")]
    pub discard_ticks: Option<u64>,
    #[serde(rename = "flush-ticks")]
    pub flush_ticks: Option<u64>,
    #[serde(rename = "ios-pgr")]
    pub ios_pgr: Option<u64>,
    #[serde(rename = "total-ticks")]
    pub total_ticks: Option<u64>,
    #[serde(rename = "weight-ticks")]
    pub weight_ticks: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestDiskStatsInfo {
    pub name: String,
    pub major: u64,
    pub minor: u64,
    pub stats: GuestDiskStats,
}

/// Milliseconds per state, from one `cpuN` line of /proc/stat.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestLinuxCpuStats {
    pub cpu: i64,
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: Option<u64>,
    pub irq: Option<u64>,
    pub softirq: Option<u64>,
    pub steal: Option<u64>,
    pub guest: Option<u64>,
    pub guestnice: Option<u64>,
}

#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestCpuStatsType {
    Linux,
}

/// A union on `type`: the members of the variant follow `type` in one
/// object. Only written by the front; the helper sends the Linux members.
#[derive(Debug, Serialize)]
pub struct GuestCpuStats {
    #[serde(rename = "type")]
    pub kind: GuestCpuStatsType,
    #[serde(flatten)]
    pub linux: GuestLinuxCpuStats,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestLoadAverage {
    pub load1m: Double,
    pub load5m: Double,
    pub load15m: Double,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestNetworkRoute {
    pub iface: String,
    pub destination: String,
    pub metric: i64,
    pub gateway: Option<String>,
    pub mask: Option<String>,
    pub irtt: Option<i64>,
    pub flags: Option<u64>,
    pub refcnt: Option<i64>,
    #[serde(rename = "use")]
    pub use_count: Option<i64>,
    pub window: Option<i64>,
    pub mtu: Option<i64>,
    pub desprefixlen: Option<String>,
    pub source: Option<String>,
    pub srcprefixlen: Option<String>,
    pub nexthop: Option<String>,
    pub version: i64,
}

// ---- ssh authorized keys ----------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshGetAuthorizedKeysArgs {
    pub username: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecArgs {
    pub path: String,
    pub arg: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    #[serde(rename = "input-data")]
    pub input_data: Option<String>,
    #[serde(rename = "capture-output")]
    pub capture_output: Option<GuestExecCaptureOutput>,
}

#[derive(Debug, Serialize)]
pub struct GuestExec {
    pub pid: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecStatusArgs {
    pub pid: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct GuestExecStatus {
    pub exited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exitcode: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i64>,
    #[serde(rename = "out-data", skip_serializing_if = "Option::is_none")]
    pub out_data: Option<String>,
    #[serde(rename = "err-data", skip_serializing_if = "Option::is_none")]
    pub err_data: Option<String>,
    #[serde(rename = "out-truncated", skip_serializing_if = "Option::is_none")]
    pub out_truncated: Option<bool>,
    #[serde(rename = "err-truncated", skip_serializing_if = "Option::is_none")]
    pub err_truncated: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshAddAuthorizedKeysArgs {
    pub username: String,
    pub keys: Vec<String>,
    pub reset: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshRemoveAuthorizedKeysArgs {
    pub username: String,
    pub keys: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct GuestAuthorizedKeys {
    pub keys: Vec<String>,
}
