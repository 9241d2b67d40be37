//! N7: a citizen's contacts ("Anagrafica e contatti"): a mobile number for
//! SMS and whether they receive messages in the IO app. They serve N4 and
//! N5: the notices of a delegation reach each party by SMS where a mobile is
//! known and in the IO app where they opted in (always, too, in the personal
//! area). Contacts are the citizen's own: a delegate acting for them never
//! changes them (D12).
//!
//! One aggregate per citizen (aggregate id = fiscal code, type `contacts`).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use deleghe_domain::booking::Phone;
//! use deleghe_domain::contacts::{ContactsCommand, ContactsError, ContactsEvent, CitizenContacts};
//! use deleghe_domain::{FiscalCode, Issuer, Policy};
//!
//! let me = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
//! let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
//! let change = ContactsCommand::Change {
//!     citizen: me.clone(),
//!     phone: Some(Some(Phone::parse("3331234567").unwrap())),
//!     io: Some(true),
//!     at,
//!     by: Issuer::citizen(me.clone()),
//! };
//! let events = CitizenContacts::default().decide(change, &Policy::default()).unwrap();
//! assert!(matches!(&events[..], [ContactsEvent::ContactsChanged { io: true, .. }]));
//!
//! // D12: a delegate acting for the citizen never changes them.
//! let delegate = FiscalCode::parse("VRDLGU70A01H501O").unwrap();
//! let acting = ContactsCommand::Change {
//!     citizen: me.clone(),
//!     phone: Some(None),
//!     io: None,
//!     at,
//!     by: Issuer::delegate_for(delegate, me),
//! };
//! let refused = CitizenContacts::default().decide(acting, &Policy::default());
//! assert_eq!(refused.unwrap_err(), ContactsError::NotAllowedWhenActing);
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::booking::Phone;
use crate::notification::Contact;
use crate::{FiscalCode, Issuer, Policy};

/// What may be done to a citizen's contacts.
#[derive(Clone, PartialEq, Eq)]
pub enum ContactsCommand {
    /// N7: sets the mobile number, the IO choice, or both; what is `None`
    /// stays as it is. D12: `by` must be the citizen in person.
    Change {
        /// Whose contacts they are.
        citizen: FiscalCode,
        /// `Some(Some(phone))` sets the mobile, `Some(None)` removes it,
        /// `None` leaves it.
        phone: Option<Option<Phone>>,
        /// `Some(choice)` sets whether IO messages are wanted; `None` leaves it.
        io: Option<bool>,
        /// The instant of the command.
        at: DateTime<Utc>,
        /// D12: who changes them, and for whom.
        by: Issuer,
    },
}

impl fmt::Debug for ContactsCommand {
    /// The phone number is personal data: it is not written out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactsCommand::Change {
                citizen: _,
                phone,
                io,
                at,
                by: _,
            } => f
                .debug_struct("Change")
                .field(
                    "phone",
                    &match phone {
                        Some(Some(_)) => "set",
                        Some(None) => "removed",
                        None => "unchanged",
                    },
                )
                .field("io", io)
                .field("at", at)
                .finish_non_exhaustive(),
        }
    }
}

/// Events of a citizen's contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContactsEvent {
    /// N7: the contacts as they are from now on, whole.
    ContactsChanged {
        /// Whose contacts they are.
        citizen: FiscalCode,
        /// The mobile number for SMS, if any.
        phone: Option<Phone>,
        /// Whether the citizen receives messages in the IO app.
        io: bool,
        /// The instant of the change.
        at: DateTime<Utc>,
    },
}

impl ContactsEvent {
    /// The instant the event carries.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::ContactsChanged { at, .. } => *at,
        }
    }
}

impl DomainEvent for ContactsEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ContactsChanged { .. } => "ContactsChanged".to_owned(),
        }
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// Why a change of contacts is refused, each with the stable code of the
/// HTTP contract ([`ContactsError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ContactsError {
    /// D12: a delegate acting for a citizen never changes the citizen's contacts.
    #[error("a delegate acting for a citizen cannot change the citizen's contacts (D12)")]
    NotAllowedWhenActing,
    /// N7: changed by someone other than the citizen in person.
    #[error("contacts are changed by their citizen in person (N7)")]
    NotTheCitizen,
    /// The command names a citizen other than the owner of these contacts.
    #[error("these contacts belong to someone else")]
    CitizenMismatch,
}

impl ContactsError {
    /// The stable machine-readable code (`code` in the HTTP problem body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAllowedWhenActing => "not_allowed_when_acting",
            Self::NotTheCitizen => "not_the_citizen",
            Self::CitizenMismatch => "citizen_mismatch",
        }
    }
}

/// N7: a citizen's contacts, as an event-sourced aggregate. A citizen who
/// never set them has no mobile and no IO messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitizenContacts {
    citizen: Option<FiscalCode>,
    contact: Contact,
}

impl CitizenContacts {
    /// Whose contacts these are, once set.
    pub fn citizen(&self) -> Option<&FiscalCode> {
        self.citizen.as_ref()
    }

    /// How the citizen can be reached: the mobile, if any, and the IO choice.
    pub fn contact(&self) -> &Contact {
        &self.contact
    }

    /// The pure decision. `Change` is refused with
    /// [`ContactsError::NotAllowedWhenActing`] when issued by a delegate
    /// acting for the citizen (D12), with [`ContactsError::NotTheCitizen`]
    /// by anyone but the citizen in person; otherwise it gives one
    /// `ContactsChanged` with the contacts whole, or nothing when they
    /// would not change (setting what is already set is not an event).
    pub fn decide(
        &self,
        command: ContactsCommand,
        _policy: &Policy,
    ) -> Result<Vec<ContactsEvent>, ContactsError> {
        match command {
            ContactsCommand::Change {
                citizen,
                phone,
                io,
                at,
                by,
            } => {
                if by.acting_for().is_some() {
                    return Err(ContactsError::NotAllowedWhenActing);
                }
                if !by.is_in_person(&citizen) {
                    return Err(ContactsError::NotTheCitizen);
                }
                if self.citizen.as_ref().is_some_and(|owner| *owner != citizen) {
                    return Err(ContactsError::CitizenMismatch);
                }
                let next = Contact {
                    phone: phone.unwrap_or_else(|| self.contact.phone.clone()),
                    io: io.unwrap_or(self.contact.io),
                };
                if self.citizen.is_some() && next == self.contact {
                    return Ok(vec![]);
                }
                Ok(vec![ContactsEvent::ContactsChanged {
                    citizen,
                    phone: next.phone,
                    io: next.io,
                    at,
                }])
            }
        }
    }

    fn evolve(&mut self, event: ContactsEvent) {
        match event {
            ContactsEvent::ContactsChanged {
                citizen, phone, io, ..
            } => {
                self.citizen = Some(citizen);
                self.contact = Contact { phone, io };
            }
        }
    }
}

crate::aggregate::event_sourced!(
    CitizenContacts,
    "contacts",
    ContactsCommand,
    ContactsEvent,
    ContactsError
);

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn me() -> FiscalCode {
        FiscalCode::parse("RSSMRA85T10A562S").unwrap()
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    fn change(phone: Option<Option<&str>>, io: Option<bool>, by: Issuer) -> ContactsCommand {
        ContactsCommand::Change {
            citizen: me(),
            phone: phone.map(|p| p.map(|p| Phone::parse(p).unwrap())),
            io,
            at: at(),
            by,
        }
    }

    fn run(state: &mut CitizenContacts, command: ContactsCommand) -> Vec<ContactsEvent> {
        let events = state.decide(command, &Policy::default()).unwrap();
        for e in events.clone() {
            state.evolve(e);
        }
        events
    }

    #[test]
    fn n7_a_change_keeps_what_it_does_not_name() {
        let mut state = CitizenContacts::default();
        run(
            &mut state,
            change(Some(Some("3331234567")), None, Issuer::citizen(me())),
        );
        assert_eq!(
            state.contact().phone.as_ref().unwrap().as_str(),
            "+393331234567"
        );
        assert!(!state.contact().io);
        run(&mut state, change(None, Some(true), Issuer::citizen(me())));
        assert!(state.contact().io);
        assert!(state.contact().phone.is_some(), "the mobile stays");
        run(&mut state, change(Some(None), None, Issuer::citizen(me())));
        assert_eq!(state.contact().phone, None);
        assert!(state.contact().io, "the IO choice stays");
    }

    #[test]
    fn n7_setting_what_is_set_is_no_event() {
        let mut state = CitizenContacts::default();
        run(&mut state, change(None, Some(true), Issuer::citizen(me())));
        assert!(run(&mut state, change(None, Some(true), Issuer::citizen(me()))).is_empty());
    }

    #[test]
    fn d12_contacts_are_changed_by_their_citizen_in_person_only() {
        let delegate = FiscalCode::parse("VRDLGU70A01H501O").unwrap();
        let state = CitizenContacts::default();
        let policy = Policy::default();
        let acting = change(
            None,
            Some(true),
            Issuer::delegate_for(delegate.clone(), me()),
        );
        assert_eq!(
            state.decide(acting, &policy).unwrap_err(),
            ContactsError::NotAllowedWhenActing
        );
        let other = change(None, Some(true), Issuer::citizen(delegate));
        assert_eq!(
            state.decide(other, &policy).unwrap_err(),
            ContactsError::NotTheCitizen
        );
        let operator = change(None, Some(true), Issuer::operator("op-1"));
        assert_eq!(
            state.decide(operator, &policy).unwrap_err(),
            ContactsError::NotTheCitizen
        );
    }

    #[test]
    fn the_phone_never_reaches_debug_output() {
        let command = change(Some(Some("3331234567")), None, Issuer::citizen(me()));
        let shown = format!("{command:?}");
        assert!(!shown.contains("3331234567"), "{shown}");
        assert!(!shown.contains(me().as_str()), "{shown}");
        // What the command does is still written out, only not the number.
        assert!(shown.starts_with("Change {"), "{shown}");
        assert!(shown.contains(r#"phone: "set""#), "{shown}");
        let removed = format!(
            "{:?}",
            change(Some(None), Some(true), Issuer::citizen(me()))
        );
        assert!(
            removed.contains(r#"phone: "removed", io: Some(true)"#),
            "{removed}"
        );
    }

    /// N7: the contacts name their citizen once set, and a change naming
    /// someone else is refused even when made by that someone in person.
    #[test]
    fn n7_contacts_belong_to_the_citizen_who_set_them() {
        let mut state = CitizenContacts::default();
        assert_eq!(state.citizen(), None);
        run(&mut state, change(None, Some(true), Issuer::citizen(me())));
        assert_eq!(state.citizen(), Some(&me()));
        let other = FiscalCode::parse("VRDLGU70A01H501O").unwrap();
        let theirs = ContactsCommand::Change {
            citizen: other.clone(),
            phone: None,
            io: Some(false),
            at: at(),
            by: Issuer::citizen(other),
        };
        assert_eq!(
            state.decide(theirs, &Policy::default()).unwrap_err(),
            ContactsError::CitizenMismatch
        );
    }

    /// N7: the event is stored under its serde tag, at version 1.0 (the
    /// stored format: a store reads the event back by that name).
    #[test]
    fn n7_contacts_events_are_stored_under_their_own_names() {
        let event = ContactsEvent::ContactsChanged {
            citizen: me(),
            phone: None,
            io: true,
            at: at(),
        };
        let json = serde_json::to_value(&event).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(tag, "ContactsChanged");
        assert_eq!(event.event_type(), tag);
        assert_eq!(event.event_version(), "1.0");
        assert_eq!(event.at(), at());
    }

    /// N7, D12: each refusal has the stable code of the HTTP contract, the
    /// one its serialised form carries.
    #[test]
    fn n7_refusals_have_their_contract_codes() {
        for (error, code) in [
            (
                ContactsError::NotAllowedWhenActing,
                "not_allowed_when_acting",
            ),
            (ContactsError::NotTheCitizen, "not_the_citizen"),
            (ContactsError::CitizenMismatch, "citizen_mismatch"),
        ] {
            assert_eq!(error.code(), code);
            assert_eq!(serde_json::to_value(&error).unwrap()["code"], code);
        }
    }
}
