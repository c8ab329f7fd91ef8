//! Pod addresses: each node hands out its /24 sequentially (like the
//! host-local IPAM plugin: from .2, the gateway being .1), skipping
//! addresses in use and wrapping around.

use std::net::Ipv4Addr;

const FIRST: u8 = 2;
const LAST: u8 = 254;

/// The addresses in use in one node's /24.
#[derive(Debug, Clone)]
pub struct IpPool {
    net: Ipv4Addr,
    used: [u64; 4],
    next: u8,
}

impl IpPool {
    pub fn new(net: Ipv4Addr) -> Self {
        IpPool {
            net,
            used: [0; 4],
            next: FIRST,
        }
    }

    fn is_used(&self, host: u8) -> bool {
        self.used[usize::from(host / 64)] & (1 << (host % 64)) != 0
    }

    fn set(&mut self, host: u8, used: bool) {
        let word = &mut self.used[usize::from(host / 64)];
        if used {
            *word |= 1 << (host % 64);
        } else {
            *word &= !(1 << (host % 64));
        }
    }

    /// The next free address after the last one handed out; `None` when all
    /// 253 are in use.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let span = usize::from(LAST - FIRST) + 1;
        for step in 0..span {
            let host = FIRST + ((usize::from(self.next - FIRST) + step) % span) as u8;
            if !self.is_used(host) {
                self.set(host, true);
                self.next = if host == LAST { FIRST } else { host + 1 };
                return Some(self.address(host));
            }
        }
        None
    }

    /// Marks `ip` as in use (a running pod seen after a restart); false when
    /// it is not a pod address of this pool.
    pub fn reserve(&mut self, ip: Ipv4Addr) -> bool {
        match self.host_of(ip) {
            Some(host) => {
                self.set(host, true);
                true
            }
            None => false,
        }
    }

    /// Returns `ip` to the pool.
    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(host) = self.host_of(ip) {
            self.set(host, false);
        }
    }

    fn host_of(&self, ip: Ipv4Addr) -> Option<u8> {
        let [a, b, c, d] = ip.octets();
        let [na, nb, nc, _] = self.net.octets();
        ((a, b, c) == (na, nb, nc) && (FIRST..=LAST).contains(&d)).then_some(d)
    }

    fn address(&self, host: u8) -> Ipv4Addr {
        let [a, b, c, _] = self.net.octets();
        Ipv4Addr::new(a, b, c, host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_with_reuse() {
        let mut pool = IpPool::new(Ipv4Addr::new(10, 0, 7, 0));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 0, 7, 2)));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 0, 7, 3)));
        pool.release(Ipv4Addr::new(10, 0, 7, 2));
        // Sequential: the freed address is reused only after wrapping.
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 0, 7, 4)));
        assert!(pool.reserve(Ipv4Addr::new(10, 0, 7, 5)));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 0, 7, 6)));
        assert!(!pool.reserve(Ipv4Addr::new(10, 0, 8, 5)));
        assert!(!pool.reserve(Ipv4Addr::new(10, 0, 7, 255)));
    }

    #[test]
    fn exhaustion_and_wrap() {
        let mut pool = IpPool::new(Ipv4Addr::new(10, 1, 0, 0));
        let all: Vec<_> = std::iter::from_fn(|| pool.allocate()).collect();
        assert_eq!(all.len(), 253);
        assert_eq!(all.last(), Some(&Ipv4Addr::new(10, 1, 0, 254)));
        assert_eq!(pool.allocate(), None);
        pool.release(Ipv4Addr::new(10, 1, 0, 100));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 1, 0, 100)));
    }
}
