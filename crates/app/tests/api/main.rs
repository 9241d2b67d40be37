//! The HTTP contract of docs/APP.md, through the router in-process (`oneshot`),
//! on the in-memory store, on a new SQLite file (the app's default store)
//! and, when `DELEGHE_TEST_POSTGRES_URL` is set, on a fresh schema of that
//! PostgreSQL server; plus one test over a real socket (`socket.rs`).

mod bookings;
mod delegations;
mod evidence;
mod meetings;
mod pending;
mod personal;
mod security_acting;
mod security_documents;
mod security_http;
mod security_meetings;
mod security_tokens;
mod socket;
mod support;
mod system;

/// Each scenario once per store: `memory::NAME`, `sqlite::NAME` and
/// `postgres::NAME` (skipped, saying so, without `DELEGHE_TEST_POSTGRES_URL`).
macro_rules! scenarios {
    ($($module:ident :: $name:ident),* $(,)?) => {
        scenarios!(@on memory, Some(crate::support::Store::Memory), $($module::$name),*);
        scenarios!(@on sqlite, Some(crate::support::Store::Sqlite), $($module::$name),*);
        scenarios!(@on postgres, crate::support::postgres(), $($module::$name),*);
    };
    (@on $store:ident, $open:expr, $($module:ident :: $name:ident),*) => {
        mod $store {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = $open else { return };
                    let api = crate::support::Api::on(store, false).await;
                    crate::$module::$name(api).await;
                }
            )*

            #[tokio::test]
            async fn dev_clock_when_enabled() {
                let Some(store) = $open else { return };
                crate::system::dev_clock_when_enabled(store).await;
            }

            #[tokio::test]
            async fn d11_the_policy_may_waive_the_online_identity_document() {
                let Some(store) = $open else { return };
                crate::evidence::d11_the_policy_may_waive_the_online_identity_document(store)
                    .await;
            }

            #[tokio::test]
            async fn flows_that_outlive_their_request_answer_202_with_where_to_ask() {
                let Some(store) = $open else { return };
                crate::pending::flows_that_outlive_their_request_answer_202_with_where_to_ask(store)
                    .await;
            }
        }
    };
}

/// The document does not depend on the store: once.
#[tokio::test]
async fn openapi_states_the_constraints_of_requests() {
    let api = crate::support::Api::on(crate::support::Store::Memory, false).await;
    system::openapi_states_the_constraints_of_requests(api).await;
}

#[test]
fn the_fiscal_code_pattern_is_the_parsers_grammar() {
    system::the_fiscal_code_pattern_is_the_parsers_grammar();
}

scenarios!(
    delegations::d1_d4_d7_online_registration,
    delegations::d2_cap_and_d3_legal_representatives,
    delegations::d6_counter_registration_confirmation_and_rejection,
    delegations::d8_revocation_online_and_at_the_counter,
    delegations::delegations_are_seen_only_by_their_parties,
    delegations::reads_see_a_write_when_they_name_its_position,
    delegations::clients_at_once_read_their_own_writes,
    delegations::bad_json_and_invalid_fiscal_codes_store_nothing,
    delegations::tokens_are_checked,
    delegations::d9_act_as_only_while_the_delegation_is_active_and_traced,
    evidence::d11_online_needs_the_grantors_own_identity_document,
    evidence::d11_counter_forms_follow_the_role,
    evidence::d11_pec_needs_the_signed_documents,
    evidence::d11_uploads_are_checked_and_refused_when_acting,
    evidence::d11_evidence_is_never_swept,
    bookings::b3_counters_and_their_free_slots,
    bookings::b1_b2_b3_b5_booking_rules,
    bookings::b4_b6_full_slots_started_slots_and_cancelling,
    bookings::b7_tickets_and_the_operators_day,
    bookings::b9_an_operator_books_for_a_citizen_under_the_same_rules,
    bookings::b10_ticket_codes_are_unique_per_office_and_day,
    bookings::b8_an_operator_marks_a_booking_served_or_missed,
    bookings::b8_an_unserved_booking_is_missed_by_itself,
    meetings::m1_to_m7_a_web_meeting_registers_the_delegation,
    meetings::m6_documents_are_pdfs_of_at_most_3_mib,
    meetings::m4_m8_meetings_that_end_without_a_delegation,
    meetings::m7_a_rule_refusing_the_registration_ends_the_meeting,
    meetings::b8_a_meeting_abandoned_before_anyone_joined_settles_its_booking,
    meetings::m1_m7_a_cancelled_bookings_meeting_goes_no_further,
    personal::p1_p3_telephone_pin,
    personal::n3_notices_in_the_personal_area,
    personal::n7_contacts_are_kept_and_changed_by_their_citizen,
    personal::d12_an_act_as_token_cannot_touch_the_grantors_contacts,
    personal::n7_a_registration_in_someones_name_reaches_them,
    personal::n7_the_coming_expiry_is_told_and_contacts_changed_meanwhile_are_used,
    system::health_and_openapi,
    system::metrics_count_requests_and_commands,
    system::metrics_answer_what_operations_lists,
    system::openapi_declares_every_status_the_error_funnel_gives,
    system::every_operation_declares_what_it_answers_to_bad_requests,
    system::the_policy_in_force,
    system::unknown_paths_and_methods_answer_problems,
    system::dev_clock_is_off_by_default,
    security_acting::d12_an_act_as_token_cannot_register_a_delegation,
    security_acting::d12_a_registration_held_past_a_counter_revocation_is_refused,
    security_acting::d12_an_act_as_token_cannot_revoke_the_grantors_delegation,
    security_acting::d12_a_booking_held_past_a_counter_revocation_is_refused,
    security_acting::d12_an_act_as_token_cannot_issue_the_grantors_pin,
    security_acting::d12_n7_an_act_as_token_cannot_mark_or_delete_the_grantors_notices,
    security_acting::d12_an_act_as_token_cannot_book_or_attend_a_delegation_web_meeting,
    security_acting::n7_d9_a_booking_made_or_cancelled_for_the_grantor_is_told_to_them,
    security_meetings::m10_the_access_code_is_stored_nowhere,
    security_meetings::m10_ten_wrong_codes_lock_joining_until_a_new_code,
    security_meetings::m11_operators_handle_their_own_office_only,
    security_documents::uploads_the_meeting_refuses_store_nothing,
    security_documents::a_pdf_starts_with_its_header_and_parses_as_one,
    security_documents::downloads_are_attachments_never_rendered,
    security_documents::unreferenced_documents_are_swept_after_their_grace,
);
