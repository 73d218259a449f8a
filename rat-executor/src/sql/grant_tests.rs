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

            let sales = rat_core::ident::namespace("sales").unwrap();
            let staff: Grantee = "role:staff".parse().unwrap();
            s.add_member(&sales, &staff).await.unwrap();
            s.add_member(&sales, &staff).await.unwrap();
            s.add_member(&sales, &"user:mia".parse().unwrap())
                .await
                .unwrap();
            assert_eq!(s.members(&sales).await.unwrap().len(), 2);
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
        }
    };
}

pub(crate) use grant_tests;
