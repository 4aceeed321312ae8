//! Device authorization grants (RFC 8628): started by a device, decided by a person who typed
//! or scanned its user code, taken once by the device's poll.

use sqlx::Row;

use super::{Db, StoreError};
use crate::crypto::TokenHash;

/// A grant as a device starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeviceGrant {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub scope: String,
    pub poll_interval: i64,
    pub expires_at: i64,
}

/// Where a grant stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    /// Approved in a session: what the tokens are issued from.
    Approved(DeviceApproval),
    Denied,
}

/// Who approved a grant, and in which session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceApproval {
    pub userid: String,
    pub sid: String,
    pub route: String,
    pub auth_time: i64,
}

/// A stored grant (never its codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceGrant {
    pub client_id: String,
    pub scope: String,
    pub status: DeviceStatus,
    pub poll_interval: i64,
    pub last_polled_at: Option<i64>,
    pub expires_at: i64,
}

/// A grant as a poll found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolledDevice {
    /// As it was before this poll.
    pub grant: DeviceGrant,
    /// The poll came sooner than the interval allows.
    pub too_soon: bool,
}

const COLUMNS: &str =
    "client_id, scope, status, userid, sid, route, auth_time, poll_interval, last_polled_at, expires_at";

impl Db {
    /// Stores a new grant. `Ok(false)` when its user code is taken already (the caller draws
    /// another).
    pub async fn insert_device_grant(&self, grant: &NewDeviceGrant) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO device_grants
                 (device_code_hash, user_code_hash, client_id, scope, status, poll_interval, expires_at)
             VALUES ($1, $2, $3, $4, 'pending', $5, $6)
             ON CONFLICT DO NOTHING",
        )
        .bind(&grant.device_code_hash)
        .bind(&grant.user_code_hash)
        .bind(&grant.client_id)
        .bind(&grant.scope)
        .bind(grant.poll_interval)
        .bind(grant.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The grant a person's user code names.
    pub async fn find_device_grant(&self, user_code: &TokenHash) -> Result<Option<DeviceGrant>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_grants WHERE user_code_hash = $1"
        ))
        .bind(user_code.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| read_grant(&r)).transpose()
    }

    /// Records a person's decision on a pending, live grant: `approval` to approve, `None` to
    /// deny. `Ok(false)` when it was decided already or has expired.
    pub async fn decide_device_grant(
        &self,
        user_code: &TokenHash,
        userid: &str,
        approval: Option<&DeviceApproval>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE device_grants SET status = $2, userid = $3, sid = $4, route = $5, auth_time = $6
             WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $7",
        )
        .bind(user_code.as_str())
        .bind(if approval.is_some() { "approved" } else { "denied" })
        .bind(userid)
        .bind(approval.map(|a| a.sid.as_str()))
        .bind(approval.map(|a| a.route.as_str()))
        .bind(approval.map(|a| a.auth_time))
        .bind(now)
        .execute(&self.pool)
        .await?;
        let decided = done.rows_affected() == 1;
        if let (true, Some(approval)) = (decided, approval) {
            // The device's app now takes part in the session: it is told when the session ends.
            sqlx::query(
                "INSERT INTO session_clients (sid, client_id)
                 SELECT $1, client_id FROM device_grants WHERE user_code_hash = $2
                 ON CONFLICT DO NOTHING",
            )
            .bind(&approval.sid)
            .bind(user_code.as_str())
            .execute(&self.pool)
            .await?;
        }
        Ok(decided)
    }

    /// Reads the grant a device polls for and records the poll: when it came sooner than the
    /// interval allows, the interval grows by `slow_down` seconds (RFC 8628 §3.5).
    pub async fn poll_device_grant(
        &self,
        device_code: &TokenHash,
        now: i64,
        slow_down: i64,
    ) -> Result<Option<PolledDevice>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_grants WHERE device_code_hash = $1"
        ))
        .bind(device_code.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(grant) = row.map(|r| read_grant(&r)).transpose()? else {
            return Ok(None);
        };
        let too_soon = grant.last_polled_at.is_some_and(|at| now - at < grant.poll_interval);
        sqlx::query("UPDATE device_grants SET last_polled_at = $2, poll_interval = poll_interval + $3 WHERE device_code_hash = $1")
            .bind(device_code.as_str())
            .bind(now)
            .bind(if too_soon { slow_down } else { 0 })
            .execute(&self.pool)
            .await?;
        Ok(Some(PolledDevice { grant, too_soon }))
    }

    /// Takes an approved grant (it cannot be taken again): who approved it.
    pub async fn take_device_grant(&self, device_code: &TokenHash) -> Result<Option<DeviceApproval>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM device_grants WHERE device_code_hash = $1 AND status = 'approved'
             RETURNING userid, sid, route, auth_time",
        )
        .bind(device_code.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(DeviceApproval {
                userid: r.try_get("userid")?,
                sid: r.try_get("sid")?,
                route: r.try_get("route")?,
                auth_time: r.try_get("auth_time")?,
            })
        })
        .transpose()
    }
}

fn read_grant(r: &sqlx::any::AnyRow) -> Result<DeviceGrant, StoreError> {
    let status: String = r.try_get("status")?;
    let status = match status.as_str() {
        "pending" => DeviceStatus::Pending,
        "denied" => DeviceStatus::Denied,
        "approved" => DeviceStatus::Approved(DeviceApproval {
            userid: r.try_get("userid")?,
            sid: r.try_get("sid")?,
            route: r.try_get("route")?,
            auth_time: r.try_get("auth_time")?,
        }),
        other => return Err(StoreError::Corrupt(format!("device grant status {other:?}"))),
    };
    Ok(DeviceGrant {
        client_id: r.try_get("client_id")?,
        scope: r.try_get("scope")?,
        status,
        poll_interval: r.try_get("poll_interval")?,
        last_polled_at: r.try_get("last_polled_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}
