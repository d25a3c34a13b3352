//! The first schema: tenants, API keys, applications, endpoints, event types,
//! messages, deliveries and attempts.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).string().not_null().primary_key().to_owned()
}

fn text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().not_null().to_owned()
}

fn nullable_text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().null().to_owned()
}

fn reference(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).string().not_null().to_owned()
}

fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).timestamp_with_time_zone().not_null().to_owned()
}

fn json(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).json().not_null().to_owned()
}

fn nullable_json(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).json().null().to_owned()
}

fn index(name: &str, table: impl IntoIden + Clone + 'static, columns: &[&str]) -> IndexCreateStatement {
    let mut statement = Index::create().name(name).table(table).to_owned();
    for column in columns {
        statement.col(Alias::new(*column));
    }
    statement
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(id(Tenants::Id))
                    .col(text(Tenants::Name))
                    .col(timestamp(Tenants::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(id(ApiKeys::Id))
                    .col(reference(ApiKeys::TenantId))
                    .col(text(ApiKeys::KeyHash))
                    .col(text(ApiKeys::Name))
                    .col(timestamp(ApiKeys::CreatedAt))
                    .col(ColumnDef::new(ApiKeys::RevokedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create().from(ApiKeys::Table, ApiKeys::TenantId).to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ux_api_keys_hash", ApiKeys::Table, &["key_hash"]).unique().to_owned()).await?;

        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(id(Applications::Id))
                    .col(reference(Applications::TenantId))
                    .col(nullable_text(Applications::Uid))
                    .col(text(Applications::Name))
                    .col(ColumnDef::new(Applications::RateLimit).integer().null())
                    .col(json(Applications::Metadata))
                    .col(timestamp(Applications::CreatedAt))
                    .col(timestamp(Applications::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Applications::Table, Applications::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_applications_tenant_uid", Applications::Table, &["tenant_id", "uid"]).unique().to_owned(),
            )
            .await?;
        manager.create_index(index("ix_applications_tenant_id", Applications::Table, &["tenant_id", "id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(Endpoints::Table)
                    .col(id(Endpoints::Id))
                    .col(reference(Endpoints::TenantId))
                    .col(reference(Endpoints::AppId))
                    .col(nullable_text(Endpoints::Uid))
                    .col(text(Endpoints::Url))
                    .col(text(Endpoints::Description))
                    .col(ColumnDef::new(Endpoints::Version).integer().not_null().default(1))
                    .col(ColumnDef::new(Endpoints::Disabled).boolean().not_null().default(false))
                    .col(ColumnDef::new(Endpoints::RateLimit).integer().null())
                    .col(nullable_json(Endpoints::FilterTypes))
                    .col(nullable_json(Endpoints::Channels))
                    .col(json(Endpoints::Metadata))
                    .col(json(Endpoints::Headers))
                    .col(text(Endpoints::Secret))
                    .col(timestamp(Endpoints::CreatedAt))
                    .col(timestamp(Endpoints::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Endpoints::Table, Endpoints::AppId)
                            .to(Applications::Table, Applications::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_endpoints_app", Endpoints::Table, &["app_id", "id"])).await?;
        manager
            .create_index(index("ux_endpoints_app_uid", Endpoints::Table, &["app_id", "uid"]).unique().to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EventTypes::Table)
                    .col(id(EventTypes::Id))
                    .col(reference(EventTypes::TenantId))
                    .col(text(EventTypes::Name))
                    .col(text(EventTypes::Description))
                    .col(nullable_json(EventTypes::Schemas))
                    .col(ColumnDef::new(EventTypes::Archived).boolean().not_null().default(false))
                    .col(ColumnDef::new(EventTypes::Deprecated).boolean().not_null().default(false))
                    .col(nullable_text(EventTypes::FeatureFlag))
                    .col(timestamp(EventTypes::CreatedAt))
                    .col(timestamp(EventTypes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EventTypes::Table, EventTypes::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_event_types_tenant_name", EventTypes::Table, &["tenant_id", "name"]).unique().to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(id(Messages::Id))
                    .col(reference(Messages::TenantId))
                    .col(reference(Messages::AppId))
                    .col(text(Messages::EventType))
                    .col(nullable_text(Messages::EventId))
                    .col(text(Messages::Payload))
                    .col(nullable_json(Messages::Channels))
                    .col(timestamp(Messages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::AppId)
                            .to(Applications::Table, Applications::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_messages_app", Messages::Table, &["app_id", "id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(id(Deliveries::Id))
                    .col(reference(Deliveries::TenantId))
                    .col(reference(Deliveries::AppId))
                    .col(reference(Deliveries::MsgId))
                    .col(reference(Deliveries::EndpointId))
                    .col(text(Deliveries::Status))
                    .col(ColumnDef::new(Deliveries::AttemptCount).integer().not_null().default(0))
                    .col(ColumnDef::new(Deliveries::NextAttemptAt).timestamp_with_time_zone().null())
                    .col(timestamp(Deliveries::CreatedAt))
                    .col(timestamp(Deliveries::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::MsgId)
                            .to(Messages::Table, Messages::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::EndpointId)
                            .to(Endpoints::Table, Endpoints::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_deliveries_msg", Deliveries::Table, &["msg_id"])).await?;
        manager.create_index(index("ix_deliveries_due", Deliveries::Table, &["status", "next_attempt_at"])).await?;
        manager.create_index(index("ix_deliveries_endpoint", Deliveries::Table, &["endpoint_id", "status"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(Attempts::Table)
                    .col(id(Attempts::Id))
                    .col(reference(Attempts::TenantId))
                    .col(reference(Attempts::AppId))
                    .col(reference(Attempts::MsgId))
                    .col(reference(Attempts::EndpointId))
                    .col(reference(Attempts::DeliveryId))
                    .col(ColumnDef::new(Attempts::AttemptNumber).integer().not_null())
                    .col(text(Attempts::Url))
                    .col(ColumnDef::new(Attempts::Status).small_integer().not_null())
                    .col(text(Attempts::OutcomeClass))
                    .col(ColumnDef::new(Attempts::ResponseStatusCode).small_integer().not_null())
                    .col(text(Attempts::Response))
                    .col(ColumnDef::new(Attempts::ResponseDurationMs).big_integer().not_null())
                    .col(ColumnDef::new(Attempts::TriggerType).small_integer().not_null())
                    .col(ColumnDef::new(Attempts::NextAttemptAt).timestamp_with_time_zone().null())
                    .col(timestamp(Attempts::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Attempts::Table, Attempts::DeliveryId)
                            .to(Deliveries::Table, Deliveries::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_attempts_msg", Attempts::Table, &["msg_id", "id"])).await?;
        manager.create_index(index("ix_attempts_endpoint", Attempts::Table, &["endpoint_id", "id"])).await?;
        manager.create_index(index("ix_attempts_delivery", Attempts::Table, &["delivery_id"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Attempts::Table.into_iden(),
            Deliveries::Table.into_iden(),
            Messages::Table.into_iden(),
            EventTypes::Table.into_iden(),
            Endpoints::Table.into_iden(),
            Applications::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    KeyHash,
    Name,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    Id,
    TenantId,
    Uid,
    Name,
    RateLimit,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Endpoints {
    Table,
    Id,
    TenantId,
    AppId,
    Uid,
    Url,
    Description,
    Version,
    Disabled,
    RateLimit,
    FilterTypes,
    Channels,
    Metadata,
    Headers,
    Secret,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EventTypes {
    Table,
    Id,
    TenantId,
    Name,
    Description,
    Schemas,
    Archived,
    Deprecated,
    FeatureFlag,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    Id,
    TenantId,
    AppId,
    EventType,
    EventId,
    Payload,
    Channels,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Deliveries {
    Table,
    Id,
    TenantId,
    AppId,
    MsgId,
    EndpointId,
    Status,
    AttemptCount,
    NextAttemptAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Attempts {
    Table,
    Id,
    TenantId,
    AppId,
    MsgId,
    EndpointId,
    DeliveryId,
    AttemptNumber,
    Url,
    Status,
    OutcomeClass,
    ResponseStatusCode,
    Response,
    ResponseDurationMs,
    TriggerType,
    NextAttemptAt,
    CreatedAt,
}
