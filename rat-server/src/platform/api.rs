//! [`PlatformApi`] for [`Platform`]: each verb is the module's method of
//! the same concept (pipelines, runs, batches, tables, schedules).

use async_trait::async_trait;
use futures::stream::BoxStream;
use rat_core::storage::ByteStream;
use rat_core::{LogRecord, Result, RunFilter, RunId, RunRecord, TableRef};

use std::sync::Arc;

use super::Platform;
use crate::api::{
    AccessApi, AuditEntry, AuditQuery, Batch, BatchRequest, Delivery, Features, FilePreview,
    FiringRecord, Grant, LandingFile, LandingZone, Lineage, MaintainRequest, MaintenanceReport, Me,
    Namespace, NamespaceMembers, NamespaceRemoved, NamespacesApi, NewGrant, NewHook,
    NewLandingZone, NewNamespace, NewPipeline, NotificationHook, NotificationsApi, Ownership, Page,
    PipelineDetail, PipelineSummary, PlatformApi, QueryOutput, QueryRequest, Readiness, Rollback,
    RunAccepted, SavePipeline, Schedule, ScheduleRequest, SnapshotInfo, SubmitRun, TableDetail,
    TableSummary, Transfer, TriggersApi, UpdateNamespace, ZoneRef,
};
use crate::auth::Principal;

#[async_trait]
impl PlatformApi for Platform {
    fn acting_for(&self, principal: &Principal) -> Arc<dyn PlatformApi> {
        Arc::new(self.for_principal(principal))
    }

    fn metrics(&self) -> Option<Arc<crate::metrics::Metrics>> {
        Some(self.inner.metrics.clone())
    }

    fn auditor(&self) -> Option<Platform> {
        Some(self.clone())
    }

    async fn metrics_text(&self) -> Result<String> {
        self.render_metrics().await
    }

    async fn features(&self) -> Result<Features> {
        Ok(self.current_features())
    }

    async fn readiness(&self) -> Result<Readiness> {
        Ok(self.readiness_now().await)
    }

    async fn namespaces(&self) -> Result<Vec<Namespace>> {
        self.namespace_list().await
    }

    async fn create_namespace(&self, new: &NewNamespace) -> Result<Namespace> {
        self.add_namespace(new).await
    }

    async fn pipelines(
        &self,
        namespace: Option<&str>,
        layer: Option<&str>,
    ) -> Result<Vec<PipelineSummary>> {
        self.list_pipelines(namespace, layer).await
    }

    async fn pipeline(&self, table: &TableRef) -> Result<PipelineDetail> {
        self.read_pipeline(table).await
    }

    async fn create_pipeline(&self, pipeline: &NewPipeline) -> Result<PipelineDetail> {
        self.add_pipeline(pipeline).await
    }

    async fn replace_pipeline(
        &self,
        table: &TableRef,
        save: &SavePipeline,
    ) -> Result<PipelineDetail> {
        self.update_pipeline(table, save).await
    }

    async fn delete_pipeline(&self, table: &TableRef) -> Result<()> {
        self.remove_pipeline(table).await
    }

    async fn lineage(&self, namespace: Option<&str>) -> Result<Lineage> {
        self.read_lineage(namespace).await
    }

    async fn submit_run(&self, request: &SubmitRun) -> Result<RunAccepted> {
        self.start_run(request).await
    }

    async fn submit_batch(&self, request: &BatchRequest) -> Result<Batch> {
        self.start_batch(request).await
    }

    async fn batch(&self, id: &str) -> Result<Batch> {
        self.read_batch(id).await
    }

    async fn cancel_batch(&self, id: &str) -> Result<Batch> {
        self.stop_batch(id).await
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        self.list_runs(filter).await
    }

    async fn run(&self, run: &RunId) -> Result<RunRecord> {
        self.read_run(run).await
    }

    async fn cancel(&self, run: &RunId) -> Result<RunRecord> {
        self.stop_run(run).await
    }

    async fn logs(&self, run: &RunId, from_seq: u64, limit: u32) -> Result<Vec<LogRecord>> {
        self.read_logs(run, from_seq, limit).await
    }

    async fn follow_logs(
        &self,
        run: &RunId,
        from_seq: u64,
    ) -> Result<BoxStream<'static, LogRecord>> {
        self.stream_logs(run, from_seq).await
    }

    async fn tables(
        &self,
        namespace: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<TableSummary>> {
        self.list_tables(namespace, limit, offset).await
    }

    async fn table(&self, table: &TableRef) -> Result<TableDetail> {
        self.read_table(table).await
    }

    async fn history(&self, table: &TableRef) -> Result<Vec<SnapshotInfo>> {
        self.read_history(table).await
    }

    async fn rollback(&self, table: &TableRef, to: i64) -> Result<Rollback> {
        self.roll_back(table, to).await
    }

    async fn maintain(
        &self,
        table: &TableRef,
        request: &MaintainRequest,
    ) -> Result<MaintenanceReport> {
        self.maintain_table(table, request).await
    }

    async fn preview(
        &self,
        table: &TableRef,
        rows: u32,
        snapshot_id: Option<i64>,
    ) -> Result<QueryOutput> {
        self.preview_table(table, rows, snapshot_id).await
    }

    async fn query(&self, request: &QueryRequest) -> Result<QueryOutput> {
        self.run_query(request).await
    }

    async fn schedules(&self) -> Result<Vec<Schedule>> {
        self.list_schedules().await
    }

    async fn schedule(&self, id: &str) -> Result<Schedule> {
        self.read_schedule(id).await
    }

    async fn create_schedule(&self, request: &ScheduleRequest) -> Result<Schedule> {
        self.add_schedule(request).await
    }

    async fn replace_schedule(&self, id: &str, request: &ScheduleRequest) -> Result<Schedule> {
        self.update_schedule(id, request).await
    }

    async fn delete_schedule(&self, id: &str) -> Result<()> {
        self.remove_schedule(id).await
    }

    async fn landing_zones(&self, namespace: Option<&str>) -> Result<Vec<LandingZone>> {
        self.list_zones(namespace).await
    }

    async fn landing_zone(&self, zone: &ZoneRef) -> Result<LandingZone> {
        self.read_zone(zone).await
    }

    async fn create_landing_zone(&self, zone: &NewLandingZone) -> Result<LandingZone> {
        self.add_zone(zone).await
    }

    async fn delete_landing_zone(&self, zone: &ZoneRef) -> Result<()> {
        self.remove_zone(zone).await
    }

    async fn landing_files(&self, zone: &ZoneRef, archived: bool) -> Result<Vec<LandingFile>> {
        self.list_zone_files(zone, archived).await
    }

    async fn upload_landing_file(
        &self,
        zone: &ZoneRef,
        name: &str,
        data: ByteStream,
    ) -> Result<LandingFile> {
        self.store_upload(zone, name, data).await
    }

    async fn read_landing_file(&self, zone: &ZoneRef, name: &str) -> Result<ByteStream> {
        self.open_zone_file(zone, name).await
    }

    async fn delete_landing_file(&self, zone: &ZoneRef, name: &str) -> Result<()> {
        self.remove_zone_file(zone, name).await
    }

    async fn preview_landing_file(
        &self,
        zone: &ZoneRef,
        name: &str,
        rows: u32,
    ) -> Result<FilePreview> {
        self.preview_zone_file(zone, name, rows).await
    }
}

#[async_trait]
impl AccessApi for Platform {
    async fn me(&self) -> Result<Me> {
        let principal = self.acting();
        Ok(Me {
            admin: principal.is_admin(),
            namespaces: self
                .visible_namespaces(self.namespace_names().await?)
                .await?
                .into_iter()
                .map(|n| n.to_string())
                .collect(),
            principal,
        })
    }

    async fn share(&self, grant: &NewGrant) -> Result<Grant> {
        self.add_grant(grant).await
    }

    async fn grants(&self, limit: u32, offset: u32) -> Result<Page<Grant>> {
        self.list_grants(limit, offset).await
    }

    async fn unshare(&self, id: &str) -> Result<()> {
        self.revoke_grant(id).await
    }

    async fn transfer(&self, transfer: &Transfer) -> Result<Ownership> {
        self.transfer_table(transfer).await
    }

    async fn audit_log(
        &self,
        query: &AuditQuery,
        limit: u32,
        offset: u32,
    ) -> Result<Page<AuditEntry>> {
        self.read_audit(query, limit, offset).await
    }
}

#[async_trait]
impl NamespacesApi for Platform {
    async fn namespace(&self, name: &str) -> Result<Namespace> {
        self.read_namespace(name).await
    }

    async fn update_namespace(&self, name: &str, update: &UpdateNamespace) -> Result<Namespace> {
        self.change_namespace(name, update).await
    }

    async fn delete_namespace(&self, name: &str, force: bool) -> Result<NamespaceRemoved> {
        self.remove_namespace(name, force).await
    }

    async fn namespace_members(&self, name: &str) -> Result<NamespaceMembers> {
        let members = self.members_of(name).await?;
        Ok(members_reply(name, members))
    }

    async fn add_namespace_member(&self, name: &str, member: &str) -> Result<NamespaceMembers> {
        let members = self.change_member(name, member, true).await?;
        Ok(members_reply(name, members))
    }

    async fn remove_namespace_member(&self, name: &str, member: &str) -> Result<NamespaceMembers> {
        let members = self.change_member(name, member, false).await?;
        Ok(members_reply(name, members))
    }
}

fn members_reply(name: &str, members: Vec<rat_core::authz::Grantee>) -> NamespaceMembers {
    NamespaceMembers {
        namespace: name.to_owned(),
        members,
    }
}

#[async_trait]
impl TriggersApi for Platform {
    async fn schedule_firings(
        &self,
        schedule: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<FiringRecord>> {
        self.list_firings(schedule, limit, offset).await
    }

    async fn fire_webhook(&self, schedule: &str, token: &str) -> Result<FiringRecord> {
        self.call_webhook(schedule, token).await
    }
}

#[async_trait]
impl NotificationsApi for Platform {
    async fn notification_hooks(&self, namespace: &str) -> Result<Vec<NotificationHook>> {
        self.list_hooks(namespace).await
    }

    async fn notification_hook(&self, namespace: &str, id: &str) -> Result<NotificationHook> {
        self.read_hook(namespace, id).await
    }

    async fn create_notification_hook(
        &self,
        namespace: &str,
        hook: &NewHook,
    ) -> Result<NotificationHook> {
        self.add_hook(namespace, hook).await
    }

    async fn delete_notification_hook(&self, namespace: &str, id: &str) -> Result<()> {
        self.remove_hook(namespace, id).await
    }

    async fn hook_deliveries(
        &self,
        namespace: &str,
        id: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Delivery>> {
        self.list_deliveries(namespace, id, limit, offset).await
    }
}
