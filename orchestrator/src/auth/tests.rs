//! The rules over a real token file: who is let through for what, and a reload.

use super::*;

const FILE: &str = "ann:admin:admin-token-0000000\nola:operator:operator-token-000\nrex:reader:reader-token-00000\n";

fn with(token: Option<&str>) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().expect("ascii");
        metadata.insert("authorization", value);
    }
    metadata
}

fn access(dir: &tempfile::TempDir, reads: bool) -> Access {
    let path = dir.path().join("tokens");
    std::fs::write(&path, FILE).expect("write");
    Access::from_file(&path, reads).expect("a good file")
}

#[test]
fn each_need_lets_through_the_roles_it_names() {
    let dir = tempfile::tempdir().expect("dir");
    let access = access(&dir, false);
    let who = |token: Option<&str>, need| access.check(&with(token), need);
    let ann = Ok(Principal("ann".into()));
    assert_eq!(who(Some("admin-token-0000000"), Need::Administer), ann);
    assert_eq!(
        who(Some("operator-token-000"), Need::Operate),
        Ok(Principal("ola".into()))
    );
    assert_eq!(
        who(None, Need::Read),
        Ok(Principal::anonymous()),
        "reads are open"
    );
    assert_eq!(
        who(Some("reader-token-00000"), Need::Read),
        Ok(Principal("rex".into()))
    );
    assert!(matches!(
        who(None, Need::Operate),
        Err(Denied::Unauthenticated(_))
    ));
    assert!(matches!(
        who(Some("not-a-token-at-all"), Need::Read),
        Err(Denied::Unauthenticated(_))
    ));
    assert!(matches!(
        who(Some("reader-token-00000"), Need::Operate),
        Err(Denied::Forbidden { .. })
    ));
    assert!(matches!(
        who(Some("operator-token-000"), Need::Administer),
        Err(Denied::Forbidden { .. })
    ));
}

#[test]
fn with_reads_checked_a_read_needs_a_token() {
    let dir = tempfile::tempdir().expect("dir");
    let access = access(&dir, true);
    assert!(matches!(
        access.check(&with(None), Need::Read),
        Err(Denied::Unauthenticated(_))
    ));
    let rex = access.check(&with(Some("reader-token-00000")), Need::Read);
    assert_eq!(rex, Ok(Principal("rex".into())));
}

#[test]
fn without_a_token_file_everyone_is_anonymous_and_may_do_anything() {
    let open = Access::open();
    for need in [Need::Read, Need::Operate, Need::Administer] {
        assert_eq!(open.check(&with(None), need), Ok(Principal::anonymous()));
    }
}

#[test]
fn a_reload_puts_the_new_file_in_force_and_a_bad_one_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let access = access(&dir, false);
    let checked = access.checked.clone().expect("checked");
    std::fs::write(dir.path().join("tokens"), "ann:admin\n").expect("write");
    checked.reload();
    let ann = access.check(&with(Some("admin-token-0000000")), Need::Administer);
    assert_eq!(
        ann,
        Ok(Principal("ann".into())),
        "a bad file keeps the old tokens"
    );
    std::fs::write(dir.path().join("tokens"), "zoe:admin:zoe-token-000000000\n").expect("write");
    checked.reload();
    let ann = access.check(&with(Some("admin-token-0000000")), Need::Administer);
    assert!(
        matches!(ann, Err(Denied::Unauthenticated(_))),
        "ann's token is gone"
    );
    let zoe = access.check(&with(Some("zoe-token-000000000")), Need::Administer);
    assert_eq!(zoe, Ok(Principal("zoe".into())));
}

#[test]
fn only_a_bearer_token_counts() {
    let mut metadata = MetadataMap::new();
    metadata.insert("authorization", "Basic YW5uOnB3".parse().expect("ascii"));
    assert_eq!(bearer(&metadata), None);
    metadata.insert("authorization", "bearer   tok  ".parse().expect("ascii"));
    assert_eq!(bearer(&metadata), Some(&b"tok"[..]));
    metadata.insert("authorization", "Bearer ".parse().expect("ascii"));
    assert_eq!(bearer(&metadata), None);
}
