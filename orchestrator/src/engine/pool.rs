//! A few HTTP/2 connections to one participant, used in turn. One connection is driven
//! by one task, which caps its throughput well below what the cores can do; several
//! spread the framing work. Each connects lazily and reconnects on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tonic::transport::Channel;

/// Clients over distinct connections; cheap to clone (the clones share the rotation).
#[derive(Debug, Clone)]
pub(super) struct Pool<C> {
    clients: Arc<[C]>,
    next: Arc<AtomicUsize>,
}

impl<C: Clone> Pool<C> {
    /// One client per channel; `channels` must not be empty.
    pub fn new(channels: Vec<Channel>, client: impl FnMut(Channel) -> C) -> Self {
        Self {
            clients: channels.into_iter().map(client).collect(),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The next client in turn.
    pub fn pick(&self) -> C {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        self.clients[turn % self.clients.len()].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clients_are_used_in_turn() {
        let channels = (0..3)
            .map(|_| tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy())
            .collect();
        let mut made = 0;
        let pool = Pool::new(channels, |_| {
            made += 1;
            made
        });
        let picked: Vec<i32> = (0..7).map(|_| pool.pick()).collect();
        assert_eq!(picked, vec![1, 2, 3, 1, 2, 3, 1]);
    }
}
