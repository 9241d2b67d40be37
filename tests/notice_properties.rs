//! Property test of N4, N5 and N7: random sequences of registrations (some
//! with an end date), counter revocations, contacts changed, time jumps and
//! dispatcher passes, run through the whole system in memory (service,
//! projector, outbox, dispatcher) with recording gateways, against a small
//! model of everyone's contacts.
//!
//! - Every SMS goes to the mobile its citizen keeps *when it is sent*, and
//!   every IO message to a citizen who has opted in by then: contacts that
//!   change while a notice waits (an expiry notice, days ahead) are the
//!   ones used.
//! - No key is delivered twice.
//! - Nobody's delegation is registered or revoked without both parties
//!   getting a notice in their personal area; an expiry is told to both
//!   unless the delegation was revoked first; and in the end no row is left
//!   pending or failed.
//!
//! `PROPTEST_CASES` raises the number of cases.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use deleghe::adapters::gateway::{async_trait, GatewayError, IoGateway, SmsGateway};
use deleghe::adapters::{Actor, Metadata, SettableClock, System};
use deleghe::domain::booking::Phone;
use deleghe::domain::contacts::ContactsCommand;
use deleghe::domain::delegation::{DelegationId, RevocationChannel};
use deleghe::domain::notification::IoMessage;
use deleghe::domain::{FiscalCode, Issuer, Policy};
use proptest::prelude::*;
use proptest::test_runner::Config;
use support::*;

/// Two grantors and two delegates.
const PEOPLE: usize = 4;

/// Person `who`'s `k`-th mobile number: unique to both, so that an SMS's
/// number says whose and which it was.
fn phone(who: usize, k: usize) -> Phone {
    Phone::parse(&format!("333{who:03}{k:04}")).unwrap()
}

#[derive(Default)]
struct Recorded {
    sms: Vec<(Phone, String)>,
    io: Vec<(FiscalCode, String)>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Recorded>>);

#[async_trait]
impl SmsGateway for Recorder {
    async fn send(&self, to: &Phone, _text: &str, key: &str) -> Result<(), GatewayError> {
        self.0
            .lock()
            .unwrap()
            .sms
            .push((to.clone(), key.to_owned()));
        Ok(())
    }
}

#[async_trait]
impl IoGateway for Recorder {
    async fn send(
        &self,
        fiscal_code: &FiscalCode,
        _message: &IoMessage,
        key: &str,
    ) -> Result<(), GatewayError> {
        self.0
            .lock()
            .unwrap()
            .io
            .push((fiscal_code.clone(), key.to_owned()));
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Step {
    Register {
        grantor: usize,
        delegate: usize,
        ends_in_days: Option<u64>,
    },
    Revoke {
        nth: usize,
    },
    Contacts {
        who: usize,
        phone: Option<usize>,
        io: bool,
    },
    Advance {
        hours: i64,
    },
    Dispatch,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..2usize, 2..PEOPLE, prop::option::of(30u64..45))
            .prop_map(|(grantor, delegate, ends_in_days)| Step::Register { grantor, delegate, ends_in_days }),
        1 => (0..8usize).prop_map(|nth| Step::Revoke { nth }),
        3 => (0..PEOPLE, prop::option::of(0..3usize), any::<bool>())
            .prop_map(|(who, phone, io)| Step::Contacts { who, phone, io }),
        3 => (1i64..480).prop_map(|hours| Step::Advance { hours }),
        3 => Just(Step::Dispatch),
    ]
}

/// A registered delegation, as the model keeps it.
struct Registered {
    id: DelegationId,
    grantor: usize,
    ends: bool,
    revoked_at: Option<DateTime<Utc>>,
}

/// The contacts the model says each person keeps.
#[derive(Clone, Default)]
struct Contacts {
    phone: Option<Phone>,
    io: bool,
}

/// Sends what is due, then checks what went out since `seen` against the
/// contacts as they are now.
async fn dispatch(
    system: &System,
    recorder: &Recorder,
    contacts: &[Contacts],
    who: &BTreeMap<String, usize>,
    seen: &mut (usize, usize),
) -> Result<(), TestCaseError> {
    system.caught_up().await.unwrap();
    system.dispatcher().drain().await.unwrap();
    let recorded = recorder.0.lock().unwrap();
    for (to, key) in &recorded.sms[seen.0..] {
        // N7: the mobile the citizen keeps now, at the sending.
        let owner = who.get(to.as_str()).copied();
        prop_assert!(owner.is_some(), "an SMS to a number nobody gave: {key}");
        let owner = owner.unwrap();
        prop_assert_eq!(
            contacts[owner].phone.as_ref(),
            Some(to),
            "{} went to a number no longer kept",
            key
        );
    }
    for (to, key) in &recorded.io[seen.1..] {
        let owner = (0..PEOPLE).find(|p| person(*p) == *to).unwrap();
        prop_assert!(
            contacts[owner].io,
            "{key} went to the IO app of someone who opted out"
        );
    }
    *seen = (recorded.sms.len(), recorded.io.len());
    Ok(())
}

proptest! {
    #![proptest_config(Config { failure_persistence: None, cases: 48, .. Config::default() })]

    #[test]
    fn n4_n5_n7_everyone_is_told_on_the_contacts_they_keep_when_it_is_sent(
        steps in prop::collection::vec(step(), 1..30)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            // The evidence rule (D11) is not what this test is about.
            let policy = Policy { online_identity_document_required: false, ..Policy::default() };
            let clock = SettableClock::fixed(t0());
            let recorder = Recorder::default();
            let system = System::builder(policy)
                .clock(clock.as_clock())
                .sms(Arc::new(recorder.clone()))
                .io(Arc::new(recorder.clone()))
                .open("memory:")
                .await
                .unwrap();
            let service = system.service();
            let mut now = t0();
            let mut contacts = vec![Contacts::default(); PEOPLE];
            let mut who: BTreeMap<String, usize> = BTreeMap::new();
            let mut registered: Vec<Registered> = Vec::new();
            let mut seen = (0, 0);
            for (n, step) in steps.into_iter().enumerate() {
                match step {
                    Step::Register { grantor, delegate, ends_in_days } => {
                        let mut r = request(&format!("d-{n}"), grantor, delegate);
                        r.at = now;
                        r.ends_on = ends_in_days.map(|days| {
                            (now + Duration::days(days as i64)).date_naive()
                        });
                        let meta = Metadata::new(Actor::Citizen(person(grantor)), "web");
                        // D1 refuses a second live delegate: not this test's rule.
                        if let Ok(d) = service.register_delegation(r, &meta).await {
                            registered.push(Registered {
                                id: d.id,
                                grantor,
                                ends: ends_in_days.is_some(),
                                revoked_at: None,
                            });
                        }
                    }
                    Step::Revoke { nth } => {
                        if registered.is_empty() {
                            continue;
                        }
                        let i = nth % registered.len();
                        let d = &registered[i];
                        let meta = Metadata::new(Actor::Operator("OP-1".into()), "counter");
                        let revoked = service
                            .revoke_delegation(&person(d.grantor), &d.id, RevocationChannel::Counter, now, &meta)
                            .await;
                        // Expired ones are refused; a repeat changes nothing.
                        if let (Ok(after), None) = (revoked, d.revoked_at) {
                            if after.status(now) == deleghe::domain::delegation::Status::Revoked {
                                registered[i].revoked_at = Some(now);
                            }
                        }
                    }
                    Step::Contacts { who: p, phone: k, io } => {
                        let number = k.map(|k| phone(p, k));
                        let citizen = person(p);
                        let meta = Metadata::new(Actor::Citizen(citizen.clone()), "web");
                        service
                            .change_contacts(
                                &citizen,
                                ContactsCommand::Change {
                                    citizen: citizen.clone(),
                                    phone: Some(number.clone()),
                                    io: Some(io),
                                    at: now,
                                    by: Issuer::citizen(citizen.clone()),
                                },
                                &meta,
                            )
                            .await
                            .unwrap();
                        if let Some(number) = &number {
                            who.insert(number.as_str().to_owned(), p);
                        }
                        contacts[p] = Contacts { phone: number, io };
                    }
                    Step::Advance { hours } => {
                        now += Duration::hours(hours);
                        clock.set(Some(now));
                    }
                    Step::Dispatch => {
                        dispatch(&system, &recorder, &contacts, &who, &mut seen).await?;
                    }
                }
            }
            // A year later, everything due has gone out.
            now += Duration::days(366);
            clock.set(Some(now));
            dispatch(&system, &recorder, &contacts, &who, &mut seen).await?;

            let outbox: BTreeMap<String, String> = system
                .read_models()
                .outbox()
                .await
                .unwrap()
                .into_iter()
                .map(|row| (row.key, row.status))
                .collect();
            for (key, status) in &outbox {
                prop_assert!(status == "sent" || status == "withdrawn", "{key} left {status}");
            }
            let recorded = recorder.0.lock().unwrap();
            let keys: Vec<&String> = recorded.sms.iter().map(|(_, k)| k).chain(recorded.io.iter().map(|(_, k)| k)).collect();
            let unique: BTreeSet<&&String> = keys.iter().collect();
            prop_assert_eq!(unique.len(), keys.len(), "N6: a key delivered twice");
            // N7: both parties are told, always in their personal area.
            let calendar = |id: &DelegationId, notice: &str, party: &str| {
                outbox
                    .get(&format!("delegation:{id}:{notice}:{party}:calendar"))
                    .map_or("missing", String::as_str)
            };
            for d in &registered {
                for party in ["grantor", "delegate"] {
                    prop_assert_eq!(calendar(&d.id, "registered", party), "sent");
                    if d.revoked_at.is_some() {
                        prop_assert_eq!(calendar(&d.id, "revoked", party), "sent");
                    } else if d.ends {
                        prop_assert_eq!(calendar(&d.id, "expired", party), "sent", "{} {}", d.id, party);
                    }
                }
            }
            Ok(())
        })?;
    }
}
