//! The one way every aggregate of this crate meets cqrs-es: `handle` runs the
//! aggregate's pure `decide(&self, command, &Policy)` and writes each event to
//! the sink (which applies it); `apply` runs the aggregate's `evolve`, which
//! holds no rules.

/// Implements `cqrs_es::Aggregate` for a type with inherent
/// `decide(&self, Command, &Policy) -> Result<Vec<Event>, Error>` and
/// `evolve(&mut self, Event)`.
macro_rules! event_sourced {
    ($aggregate:ty, $name:literal, $command:ty, $event:ty, $error:ty) => {
        impl cqrs_es::Aggregate for $aggregate {
            const TYPE: &'static str = $name;
            type Command = $command;
            type Event = $event;
            type Error = $error;
            type Services = $crate::Policy;

            async fn handle(
                &mut self,
                command: Self::Command,
                policy: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                for event in self.decide(command, policy)? {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                self.evolve(event)
            }
        }
    };
}

pub(crate) use event_sourced;
