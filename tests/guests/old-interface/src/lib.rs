//! A policy on the 0.0.9 interface; see `wit/old.wit`.

// The generated bindings use `unsafe` for the canonical ABI.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({ world: "policy", path: "wit" });

    struct Old;

    impl exports::switchboard::plugin::policy_api::Guest for Old {
        fn configure(_config: String) -> Result<(), String> {
            Ok(())
        }

        fn route(_item: switchboard::plugin::types::Item) -> Result<String, String> {
            Ok("physician".to_string())
        }
    }

    export!(Old);
}
