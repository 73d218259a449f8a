//! The grant store's behaviour every SQL backend must show, beside
//! [`store_tests!`](super::tests::store_tests) (whose `store()` it uses).

/// Grant store tests over the `store()` of
/// [`store_tests!`](super::tests::store_tests) in the same module.
macro_rules! grant_tests {
    () => {
        #[tokio::test]
        async fn owners_members_and_grants_are_kept_and_found_by_grantee() {
            use rat_core::authz::{Grant, GrantStore, Grantee, Level};
            use rat_core::principal::Principal;
            let (_guard, s) = store().await;
            let table: TableRef = "sales.bronze.orders".parse().unwrap();
            assert_eq!(s.owner(&table).await.unwrap(), None);
            s.set_owner(&table, "owen").await.unwrap();
            s.set_owner(&table, "olga").await.unwrap();
            assert_eq!(s.owner(&table).await.unwrap().as_deref(), Some("olga"));
            assert_eq!(
                s.owned_by("olga").await.unwrap(),
                std::slice::from_ref(&table)
            );
            assert!(s.owned_by("owen").await.unwrap().is_empty());

            let sales = rat_core::ident::namespace("sales").unwrap();
            let staff: Grantee = "role:staff".parse().unwrap();
            s.add_member(&sales, &staff).await.unwrap();
            s.add_member(&sales, &staff).await.unwrap();
            s.add_member(&sales, &"user:mia".parse().unwrap())
                .await
                .unwrap();
            assert_eq!(s.members(&sales).await.unwrap().len(), 2);
            let sam = Principal::new("sam")
                .unwrap()
                .with_roles(["staff"])
                .unwrap();
            assert_eq!(
                s.memberships(&sam).await.unwrap(),
                std::slice::from_ref(&sales)
            );
            assert!(
                s.memberships(&Principal::new("rex").unwrap())
                    .await
                    .unwrap()
                    .is_empty()
            );
            s.remove_member(&sales, &staff).await.unwrap();
            assert_eq!(
                s.members(&sales).await.unwrap(),
                ["user:mia".parse::<Grantee>().unwrap()]
            );

            let grant = |id: &str, object: &str, grantee: &str, level| Grant {
                id: id.into(),
                object: object.parse().unwrap(),
                grantee: grantee.parse().unwrap(),
                level,
                granted_by: "olga".into(),
                created_at: Utc::now(),
            };
            s.add_grant(&grant("g1", "sales.bronze.orders", "user:rex", Level::Read))
                .await
                .unwrap();
            s.add_grant(&grant("g2", "sales.*", "role:engineer", Level::Write))
                .await
                .unwrap();
            s.add_grant(&grant("g3", "other.*", "role:analyst", Level::Read))
                .await
                .unwrap();
            let twice = s
                .add_grant(&grant("g4", "sales.*", "role:engineer", Level::Read))
                .await
                .unwrap_err();
            assert_eq!(twice.kind(), ErrorKind::AlreadyExists, "{twice}");
            let wes = Principal::new("wes")
                .unwrap()
                .with_roles(["engineer", "analyst"])
                .unwrap();
            let ids = |grants: Vec<Grant>| grants.into_iter().map(|g| g.id).collect::<Vec<_>>();
            assert_eq!(ids(s.grants_for(&wes).await.unwrap()), ["g2", "g3"]);
            assert_eq!(
                ids(s.grants_for(&Principal::new("rex").unwrap()).await.unwrap()),
                ["g1"]
            );
            assert_eq!(s.grants(10, 0).await.unwrap().len(), 3);
            assert_eq!(ids(s.grants(1, 1).await.unwrap()), ["g2"]);
            assert_eq!(s.grants_by("olga").await.unwrap().len(), 3);
            assert!(s.grants_by("rex").await.unwrap().is_empty());
            assert_eq!(
                s.grant("g3").await.unwrap().grantee.to_string(),
                "role:analyst"
            );
            assert_eq!(
                s.grant("nope").await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            let read = &s.grants_for(&wes).await.unwrap()[0];
            assert_eq!(read.level, Level::Write);
            assert_eq!(read.object.to_string(), "sales.*");
            s.revoke("g2").await.unwrap();
            assert_eq!(
                s.revoke("g2").await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            assert_eq!(ids(s.grants_for(&wes).await.unwrap()), ["g3"]);
        }

        #[tokio::test]
        async fn the_built_in_authorizer_decides_by_what_the_store_holds() {
            use rat_core::authz::{Action, Authorizer, Grant, GrantAuthorizer, GrantStore, Level};
            use rat_core::principal::Principal;
            let (_guard, s) = store().await;
            let authorizer = GrantAuthorizer::new(std::sync::Arc::new(s.clone()));
            let table: TableRef = "sales.bronze.orders".parse().unwrap();
            let rex = Principal::new("rex").unwrap();
            let allows = |who: &Principal, action| {
                let (authorizer, who, table) = (authorizer.clone(), who.clone(), table.clone());
                async move { authorizer.allows(&who, action, &table).await.unwrap() }
            };
            assert!(!allows(&rex, Action::Discover).await);
            s.add_member(&table.namespace, &"user:rex".parse().unwrap())
                .await
                .unwrap();
            assert!(allows(&rex, Action::Discover).await);
            assert!(!allows(&rex, Action::Read).await);
            let grant = Grant {
                id: "g".into(),
                object: "sales.bronze.*".parse().unwrap(),
                grantee: "user:rex".parse().unwrap(),
                level: Level::Read,
                granted_by: "olga".into(),
                created_at: Utc::now(),
            };
            s.add_grant(&grant).await.unwrap();
            assert!(allows(&rex, Action::Read).await);
            assert!(!allows(&rex, Action::Write).await);
            s.set_owner(&table, "rex").await.unwrap();
            assert!(allows(&rex, Action::Manage).await);
            // The next request sees a transfer and a revocation.
            s.set_owner(&table, "olga").await.unwrap();
            s.revoke("g").await.unwrap();
            assert!(!allows(&rex, Action::Read).await);
            assert!(allows(&Principal::local("ada"), Action::Manage).await);
            // A list decides by one read of the caller's reach, the same.
            s.add_grant(&Grant {
                id: "g5".into(),
                ..grant.clone()
            })
            .await
            .unwrap();
            let other: TableRef = "sales.silver.orders".parse().unwrap();
            let seen = authorizer
                .filter(&rex, Action::Read, vec![table.clone(), other.clone()])
                .await
                .unwrap();
            assert_eq!(seen, std::slice::from_ref(&table));
            let ns = |n: &str| rat_core::ident::namespace(n).unwrap();
            let namespaces = authorizer
                .filter_namespaces(&rex, Action::Discover, vec![ns("other"), ns("sales")])
                .await
                .unwrap();
            assert_eq!(namespaces, [ns("sales")]);
            assert!(
                !authorizer
                    .allows_namespace(&rex, Action::Write, &ns("sales"))
                    .await
                    .unwrap()
            );
        }

        #[tokio::test]
        async fn the_audit_log_is_appended_filtered_paged_and_pruned() {
            use rat_core::audit::{AuditEntry, AuditFilter, AuditOutcome, AuditStore};
            let (_guard, s) = store().await;
            let start =
                chrono::SubsecRound::trunc_subsecs(Utc::now(), 6) - chrono::Duration::seconds(10);
            let entry = |n: i64, principal: &str, verb: &str, object: &str, outcome| AuditEntry {
                id: format!("a{n}"),
                at: start + chrono::Duration::seconds(n),
                principal: principal.into(),
                verb: verb.into(),
                object: object.into(),
                outcome,
                status: 200,
                request_id: Some(format!("req-{n}")),
            };
            let verb = "POST /api/v1/pipelines";
            s.append(&entry(
                1,
                "ann",
                verb,
                "/api/v1/pipelines",
                AuditOutcome::Ok,
            ))
            .await
            .unwrap();
            s.append(&entry(
                2,
                "rex",
                "DELETE /api/v1/pipelines/{namespace}/{layer}/{name}",
                "/api/v1/pipelines/sales/bronze/orders",
                AuditOutcome::Denied,
            ))
            .await
            .unwrap();
            s.append(&entry(
                3,
                "ann",
                "DELETE /api/v1/sharing/{id}",
                "/api/v1/sharing/g1",
                AuditOutcome::Failed,
            ))
            .await
            .unwrap();
            let ids = |found: Vec<AuditEntry>| found.into_iter().map(|e| e.id).collect::<Vec<_>>();
            let all = AuditFilter {
                limit: 10,
                ..Default::default()
            };
            let read = s.entries(&all).await.unwrap();
            assert_eq!(ids(read.clone()), ["a3", "a2", "a1"]);
            assert_eq!(
                read[1],
                entry(
                    2,
                    "rex",
                    "DELETE /api/v1/pipelines/{namespace}/{layer}/{name}",
                    "/api/v1/pipelines/sales/bronze/orders",
                    AuditOutcome::Denied
                )
            );
            let s = &s;
            let by = |f: AuditFilter| async move { ids(s.entries(&f).await.unwrap()) };
            assert_eq!(
                by(AuditFilter {
                    principal: Some("ann".into()),
                    ..all.clone()
                })
                .await,
                ["a3", "a1"]
            );
            assert_eq!(
                by(AuditFilter {
                    object: Some("/api/v1/pipelines".into()),
                    ..all.clone()
                })
                .await,
                ["a2", "a1"]
            );
            assert_eq!(
                by(AuditFilter {
                    verb: Some("DELETE".into()),
                    ..all.clone()
                })
                .await,
                ["a3", "a2"]
            );
            assert_eq!(
                by(AuditFilter {
                    verb: Some(verb.into()),
                    ..all.clone()
                })
                .await,
                ["a1"]
            );
            assert_eq!(
                by(AuditFilter {
                    outcome: Some(AuditOutcome::Denied),
                    ..all.clone()
                })
                .await,
                ["a2"]
            );
            let since = start + chrono::Duration::seconds(2);
            assert_eq!(
                by(AuditFilter {
                    since: Some(since),
                    ..all.clone()
                })
                .await,
                ["a3", "a2"]
            );
            assert_eq!(
                by(AuditFilter {
                    until: Some(since),
                    ..all.clone()
                })
                .await,
                ["a1"]
            );
            assert_eq!(
                by(AuditFilter {
                    limit: 1,
                    offset: 1,
                    ..all.clone()
                })
                .await,
                ["a2"]
            );
            assert_eq!(s.prune_audit(since).await.unwrap(), 1);
            assert_eq!(by(all).await, ["a3", "a2"]);
        }
    };
}

pub(crate) use grant_tests;
