//! Linux CPU lists (`0-3,8,10-11`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A set of CPU numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuSet(BTreeSet<u32>);

/// Largest CPU number accepted (the kernel's NR_CPUS tops out far below).
pub const MAX_CPU: u32 = 65_535;

/// A malformed CPU list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CPU list {list:?}: bad entry {token:?} ({reason})")]
pub struct CpuSetError {
    /// The whole list.
    pub list: String,
    /// The bad entry.
    pub token: String,
    /// Why.
    pub reason: &'static str,
}

impl CpuSet {
    /// CPUs in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().copied()
    }
    /// Number of CPUs.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// No CPU.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Lowest CPU.
    pub fn first(&self) -> Option<u32> {
        self.0.first().copied()
    }
    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: u32) -> bool {
        self.0.contains(&cpu)
    }
    /// CPUs in both sets.
    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        CpuSet(self.0.intersection(&other.0).copied().collect())
    }
}

impl FromIterator<u32> for CpuSet {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        CpuSet(iter.into_iter().collect())
    }
}

impl FromStr for CpuSet {
    type Err = CpuSetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = BTreeSet::new();
        for token in s.trim().split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let err = |reason| CpuSetError {
                list: s.trim().to_owned(),
                token: token.to_owned(),
                reason,
            };
            let num = |t: &str| -> Result<u32, CpuSetError> {
                let n: u32 = t.trim().parse().map_err(|_| err("not a number"))?;
                if n > MAX_CPU {
                    Err(err("CPU number too large"))
                } else {
                    Ok(n)
                }
            };
            match token.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if a > b {
                        return Err(err("reversed range"));
                    }
                    set.extend(a..=b);
                }
                None => {
                    set.insert(num(token)?);
                }
            }
        }
        Ok(CpuSet(set))
    }
}

impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut it = self.0.iter().copied().peekable();
        while let Some(start) = it.next() {
            let mut end = start;
            while it.peek() == Some(&(end + 1)) {
                end += 1;
                it.next();
            }
            parts.push(if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
        }
        f.write_str(&parts.join(","))
    }
}

impl Serialize for CpuSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_and_singles_parse() {
        let s: CpuSet = "0-3,8,10-11\n".parse().unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), [0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(s.to_string(), "0-3,8,10-11");
    }

    #[test]
    fn an_empty_list_is_an_empty_set() {
        assert!("".parse::<CpuSet>().unwrap().is_empty());
        assert!(" \n".parse::<CpuSet>().unwrap().is_empty());
    }

    #[test]
    fn bad_tokens_are_named() {
        let e = "0-3,x,5".parse::<CpuSet>().unwrap_err();
        assert_eq!(e.token, "x");
        assert_eq!(
            "5-2".parse::<CpuSet>().unwrap_err().reason,
            "reversed range"
        );
        assert!("0-99999999".parse::<CpuSet>().is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(v in proptest::collection::btree_set(0u32..512, 0..64)) {
            let s = CpuSet(v);
            prop_assert_eq!(s.to_string().parse::<CpuSet>().unwrap(), s);
        }
    }
}
