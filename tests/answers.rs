//! D10, B4: what a caller of a flow is answered, from the outcome stored:
//! the delegation or booking once settled; "pending" while its flow is
//! under way (the runner finishes it); the rule's own refusal when the flow
//! ended refused, or its code alone for a refusal stored before the error
//! was (`deleghe::adapters::service::{settled_delegation, settled_booking}`).

mod support;

use std::sync::Arc;

use deleghe::adapters::service::{settled_booking, settled_delegation};
use deleghe::adapters::{Deleghe, ServiceError};
use deleghe::domain::booking::{Booking, BookingError, BookingStage};
use deleghe::domain::delegation::{Delegation, DelegationError, Stage};
use deleghe::domain::flows::Refusal;
use deleghe::domain::Policy;
use support::*;

fn is_pending<T: std::fmt::Debug>(answer: Result<T, ServiceError>) -> bool {
    matches!(answer, Err(ServiceError::Pending(_)))
}

fn refused_by<T: std::fmt::Debug>(answer: Result<T, ServiceError>) -> Refusal {
    match answer {
        Err(ServiceError::Rule(refusal)) => refusal,
        other => panic!("expected the rule's refusal, got {other:?}"),
    }
}

fn refused_earlier<T: std::fmt::Debug>(answer: Result<T, ServiceError>) -> String {
    match answer {
        Err(ServiceError::RefusedEarlier(code)) => code,
        other => panic!("expected a refusal by its code, got {other:?}"),
    }
}

#[tokio::test]
async fn d10_b4_a_flow_is_answered_from_its_stored_outcome() {
    let service = Deleghe::in_memory(Policy::default()).with_clock(Arc::new(t0));
    let delegation = service
        .register_delegation(request("d-1", 1, 2), &meta(1))
        .await
        .unwrap();
    let booking = service.book(web_booking("b-1", 3), &meta(3)).await.unwrap();

    // Settled: itself.
    assert_eq!(settled_delegation(delegation.clone()).unwrap(), delegation);
    assert_eq!(settled_booking(booking.clone()).unwrap(), booking);

    // Under way.
    let with = |stage| Delegation {
        stage,
        ..delegation.clone()
    };
    let booked = |stage| Booking {
        stage,
        ..booking.clone()
    };
    assert!(is_pending(settled_delegation(with(Stage::Pending))));
    assert!(is_pending(settled_booking(booked(BookingStage::Pending))));

    // Ended refused, the rule's error stored: that refusal.
    let cap = DelegationError::DelegateCapReached { cap: 3 };
    let refused = with(Stage::Refused {
        at: t0(),
        reason: "delegate_cap_reached".into(),
        refusal: Some(cap.clone()),
    });
    assert_eq!(refused_by(settled_delegation(refused)), Refusal::from(cap));
    let full = BookingError::SlotFull { capacity: 2 };
    let refused = booked(BookingStage::Refused {
        at: t0(),
        reason: "slot_full".into(),
        refusal: Some(full.clone()),
    });
    assert_eq!(refused_by(settled_booking(refused)), Refusal::from(full));

    // Ended refused before the error was stored: its code.
    let refused = with(Stage::Refused {
        at: t0(),
        reason: "delegate_cap_reached".into(),
        refusal: None,
    });
    assert_eq!(
        refused_earlier(settled_delegation(refused)),
        "delegate_cap_reached"
    );
    let refused = booked(BookingStage::Refused {
        at: t0(),
        reason: "slot_full".into(),
        refusal: None,
    });
    assert_eq!(refused_earlier(settled_booking(refused)), "slot_full");
}
