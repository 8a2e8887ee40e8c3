//! The export macros. They expand to nothing outside WebAssembly, so a plugin
//! crate builds and runs its tests natively with the same source.

/// Exports a [`crate::Policy`] implementation as the component's
/// `packed-policy` world: `policy-api`, and `policy-packed` for routing.
///
/// ```ignore
/// struct MyPolicy;
/// impl switchboard_sdk::Policy for MyPolicy { /* ... */ }
/// switchboard_sdk::export_policy!(MyPolicy);
/// ```
#[cfg(feature = "policy")]
#[macro_export]
macro_rules! export_policy {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::guest::policy as __b;

            ::std::thread_local! {
                static __STATE: ::std::cell::RefCell<::std::option::Option<$ty>> = const { ::std::cell::RefCell::new(None) };
            }

            fn __with<R>(f: impl FnOnce(&mut $ty) -> R) -> R {
                __STATE.with(|cell| {
                    let mut slot = cell.borrow_mut();
                    let policy = slot.as_mut().expect("the host must call configure before any other export");
                    f(policy)
                })
            }

            struct __Export;

            impl __b::exports::switchboard::plugin::policy_api::Guest for __Export {
                fn configure(site: __b::switchboard::plugin::types::Site, config: ::std::string::String) -> ::std::result::Result<(), __b::switchboard::plugin::types::ConfigError> {
                    let built = match <$ty as $crate::Policy>::configure(__b::site(site), &config) {
                        Ok(built) => built,
                        Err(error) => return Err(error.into()),
                    };
                    __STATE.with(|cell| *cell.borrow_mut() = Some(built));
                    Ok(())
                }

                fn route(
                    items: ::std::vec::Vec<__b::switchboard::plugin::types::RouteItem>,
                    context: __b::switchboard::plugin::types::RouteContext,
                ) -> ::std::vec::Vec<::std::result::Result<__b::switchboard::plugin::types::Assignment, __b::switchboard::plugin::types::RouteError>> {
                    let items: ::std::vec::Vec<_> = items.into_iter().map(__b::route_item).collect();
                    let context = __b::route_context(context);
                    __with(|p| <$ty as $crate::Policy>::route_batch(p, &items, &context)).into_iter().map(__b::route_outcome).collect()
                }

                fn nudges(items: ::std::vec::Vec<__b::switchboard::plugin::types::OpenItem>, now: i64) -> ::std::vec::Vec<__b::switchboard::plugin::types::Nudge> {
                    let items: ::std::vec::Vec<_> = items.into_iter().map(__b::open_item).collect();
                    __with(|p| <$ty as $crate::Policy>::nudges(p, &items, $crate::Timestamp(now))).into_iter().map(__b::nudge).collect()
                }

                fn prepare(visits: ::std::vec::Vec<__b::switchboard::plugin::types::PrepVisit>, now: i64) -> ::std::vec::Vec<__b::switchboard::plugin::types::PrepItem> {
                    let visits: ::std::vec::Vec<_> = visits.into_iter().map(__b::prep_visit).collect();
                    __with(|p| <$ty as $crate::Policy>::prepare(p, &visits, $crate::Timestamp(now))).into_iter().map(__b::prep_item).collect()
                }
            }

            impl __b::exports::switchboard::plugin::policy_packed::Guest for __Export {
                fn route(items: ::std::vec::Vec<u8>, context: __b::switchboard::plugin::types::RouteContext) -> ::std::vec::Vec<u8> {
                    __b::route_packed(&items, context, |items, context, out| __with(|p| <$ty as $crate::Policy>::route_into(p, items, context, out)))
                }
            }

            $crate::__export_packed_policy_impl!(__Export with_types_in $crate::guest::policy);
        };
    };
}

/// Exports a [`crate::Connector`] implementation as the component's
/// `connector` world.
#[cfg(feature = "connector")]
#[macro_export]
macro_rules! export_connector {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::guest::connector as __b;
            type __Error = __b::switchboard::plugin::types::ConnectorError;

            ::std::thread_local! {
                static __STATE: ::std::cell::RefCell<::std::option::Option<$ty>> = const { ::std::cell::RefCell::new(None) };
            }

            fn __with<R>(f: impl FnOnce(&mut $ty) -> R) -> R {
                __STATE.with(|cell| {
                    let mut slot = cell.borrow_mut();
                    let connector = slot.as_mut().expect("the host must call configure before any other export");
                    f(connector)
                })
            }

            struct __Export;

            impl __b::exports::switchboard::plugin::connector_api::Guest for __Export {
                fn configure(config: ::std::string::String) -> ::std::result::Result<(), __b::switchboard::plugin::types::ConfigError> {
                    let built = match <$ty as $crate::Connector>::configure(&config) {
                        Ok(built) => built,
                        Err(error) => return Err(error.into()),
                    };
                    __STATE.with(|cell| *cell.borrow_mut() = Some(built));
                    Ok(())
                }

                fn poll(cursor: ::std::option::Option<::std::string::String>) -> ::std::result::Result<__b::switchboard::plugin::types::PollResult, __Error> {
                    __with(|c| <$ty as $crate::Connector>::poll(c, cursor.as_deref())).map(__b::poll_result).map_err(__b::connector_error)
                }

                fn backfill(since: i64, cursor: ::std::option::Option<::std::string::String>) -> ::std::result::Result<__b::switchboard::plugin::types::PollResult, __Error> {
                    __with(|c| <$ty as $crate::Connector>::backfill(c, $crate::Timestamp(since), cursor.as_deref()))
                        .map(__b::poll_result)
                        .map_err(__b::connector_error)
                }

                fn accept(message: ::std::vec::Vec<u8>, content_type: ::std::string::String) -> ::std::result::Result<__b::switchboard::plugin::types::Batch, __Error> {
                    __with(|c| <$ty as $crate::Connector>::accept(c, &message, &content_type)).map(__b::batch).map_err(__b::connector_error)
                }
            }

            $crate::__export_connector_impl!(__Export with_types_in $crate::guest::connector);
        };
    };
}
