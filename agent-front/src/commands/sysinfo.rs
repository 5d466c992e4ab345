//! The system information commands: guest-get-host-name, guest-get-users,
//! guest-get-timezone, guest-get-osinfo, guest-get-diskstats,
//! guest-get-cpustats, guest-get-load and guest-network-get-route. Each is
//! one helper request; the result is written as qemu-ga writes it, with
//! absent members left out.

use super::{call, decode, unexpected, Arguments, CommandResult};
use crate::link::HelperLink;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::qga::{GuestCpuStats, GuestCpuStatsType, GuestHostName, NoArgs};
use serde::Serialize;
use serde_json::Value;

/// A result without the members the helper left empty: QAPI omits an
/// absent optional member rather than writing `null`, and no qemu-ga result
/// holds a `null`.
fn without_absent<T: Serialize>(result: &T) -> Value {
    fn prune(value: Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, prune(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(prune).collect()),
            other => other,
        }
    }
    prune(serde_json::to_value(result).unwrap_or(Value::Null))
}

/// Runs a command that takes no arguments and answers with one reply.
async fn query(
    arguments: Arguments<'_>,
    link: &mut HelperLink,
    request: HelperRequest,
) -> Result<HelperReply, crate::link::CallError> {
    decode::<NoArgs>(arguments)?;
    call(link, request).await
}

pub async fn host_name(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match query(arguments, link, HelperRequest::GetHostName).await? {
        HelperReply::HostName(host_name) => Ok(Some(without_absent(&GuestHostName { host_name }))),
        other => Err(unexpected(other)),
    }
}

pub async fn users(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match query(arguments, link, HelperRequest::GetUsers).await? {
        HelperReply::Users(users) => Ok(Some(without_absent(&users))),
        other => Err(unexpected(other)),
    }
}

pub async fn timezone(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match query(arguments, link, HelperRequest::GetTimezone).await? {
        HelperReply::Timezone(tz) => Ok(Some(without_absent(&tz))),
        other => Err(unexpected(other)),
    }
}

pub async fn os_info(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match query(arguments, link, HelperRequest::GetOsInfo).await? {
        HelperReply::OsInfo(info) => Ok(Some(without_absent(&*info))),
        other => Err(unexpected(other)),
    }
}

pub async fn diskstats(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match query(arguments, link, HelperRequest::GetDiskstats).await? {
        HelperReply::Diskstats(disks) => Ok(Some(without_absent(&disks))),
        other => Err(unexpected(other)),
    }
}

pub async fn cpustats(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match query(arguments, link, HelperRequest::GetCpustats).await? {
        HelperReply::Cpustats(cpus) => {
            let union: Vec<GuestCpuStats> = cpus
                .into_iter()
                .map(|linux| GuestCpuStats {
                    kind: GuestCpuStatsType::Linux,
                    linux,
                })
                .collect();
            Ok(Some(without_absent(&union)))
        }
        other => Err(unexpected(other)),
    }
}

pub async fn load(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match query(arguments, link, HelperRequest::GetLoad).await? {
        HelperReply::Load(load) => Ok(Some(without_absent(&load))),
        other => Err(unexpected(other)),
    }
}

pub async fn routes(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match query(arguments, link, HelperRequest::NetworkGetRoute).await? {
        HelperReply::Routes(routes) => Ok(Some(without_absent(&routes))),
        other => Err(unexpected(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::qga::{Double, GuestTimezone, GuestUser};
    use serde_json::json;

    #[test]
    fn absent_members_are_left_out() {
        let tz = GuestTimezone {
            zone: None,
            offset: 3600,
        };
        assert_eq!(without_absent(&tz), json!({"offset": 3600}));
        let users = vec![GuestUser {
            user: "root".into(),
            login_time: Double(1.5),
            domain: None,
        }];
        assert_eq!(
            without_absent(&users),
            json!([{"user": "root", "login-time": 1.5}])
        );
    }
}
