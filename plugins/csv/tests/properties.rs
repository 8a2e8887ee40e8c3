//! Random files never panic the CSV connector, and every reject names a
//! line and a column.

use csv_connector::CsvConnector;
use proptest::prelude::*;
use switchboard_sdk::Connector;
use switchboard_sdk::testing::MockHost;

const CONFIG: &str = r#"
date_formats = ["%m/%d/%Y %H:%M", "%Y-%m-%d"]
attributes = ["d"]
[columns]
external_id = "a"
category = "b"
created = "c"
version = "e"
[categories]
x = "refill"
"#;

fn accept_without_panic(input: &[u8]) {
    let _host = MockHost::new().time_zone("America/Chicago").install();
    let mut connector = CsvConnector::configure(CONFIG).unwrap();

    if let Ok(batch) = connector.accept(input, "text/csv") {
        for reject in &batch.rejects {
            assert!(reject.location.starts_with("line "), "{reject}");
            assert!(!reject.field.is_empty(), "{reject}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..2048)) {
        accept_without_panic(&input);
    }

    #[test]
    fn random_rows_never_panic(rows in prop::collection::vec("[a-e0-9x/:\" ,\r\n-]{0,40}", 0..30)) {
        let input = format!("a,b,c,d,e\n{}", rows.join("\n"));

        accept_without_panic(input.as_bytes());
    }
}
