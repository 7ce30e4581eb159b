//! The sandbox's test data: the UAT seed patient and a few more, all with
//! valid test NHIs (Z-prefixed), one patient with no NHI at all, and the
//! facilities it knows.

/// A test patient.
#[derive(Debug, Clone, Copy)]
pub struct SandboxPatient {
    pub id: &'static str,
    /// Empty for a patient without one ([`PATIENT_WITHOUT_NHI`]).
    pub nhi: &'static str,
    pub given: &'static str,
    pub family: &'static str,
    pub birth_date: &'static str,
}

/// The patients the sandbox knows. The first is the seed's UAT test patient.
pub const PATIENTS: [SandboxPatient; 3] = [
    SandboxPatient {
        id: "14e52e16edb7a435bfa05e307afd008b",
        nhi: "ZZZ0016",
        given: "Aroha",
        family: "Testpatient",
        birth_date: "1984-03-12",
    },
    SandboxPatient {
        id: "5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65",
        nhi: "ZZZ0024",
        given: "James",
        family: "Sample",
        birth_date: "1951-11-02",
    },
    SandboxPatient {
        id: "c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8",
        nhi: "ZZZ0032",
        given: "Mere",
        family: "Example",
        birth_date: "2016-07-30",
    },
];

/// A patient Medtech holds without an NHI (not every patient has one yet):
/// ALEX documents no search for such a patient's filings. Kept out of
/// [`PATIENTS`], whose entries all have one; [`all_patients`] has both.
pub const PATIENT_WITHOUT_NHI: SandboxPatient = SandboxPatient {
    id: "0a9b8c7d6e5f40312f1e0d9c8b7a6f5e",
    nhi: "",
    given: "Baby",
    family: "Unregistered",
    birth_date: "2026-01-05",
};

/// HPI facility ids the sandbox accepts in `mt-facilityid`.
pub const FACILITIES: [&str; 2] = ["F2N060-E", "F99669-C"];

/// The NHI identifier system.
pub const NHI_SYSTEM: &str = "https://standards.digital.health.nz/ns/nhi-id";

/// Every patient the sandbox knows, with or without an NHI.
pub fn all_patients() -> impl Iterator<Item = &'static SandboxPatient> {
    PATIENTS.iter().chain(std::iter::once(&PATIENT_WITHOUT_NHI))
}

/// The patient with this id.
pub fn patient(id: &str) -> Option<&'static SandboxPatient> {
    all_patients().find(|p| p.id == id)
}

/// The patient with this NHI (an empty one names nobody).
pub fn patient_by_nhi(nhi: &str) -> Option<&'static SandboxPatient> {
    all_patients().find(|p| !p.nhi.is_empty() && p.nhi == nhi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HISO 10046 check digit for the old NHI format.
    fn nhi_valid(nhi: &str) -> bool {
        let b = nhi.as_bytes();
        let letter = |c: u8| {
            let mut v = (c - b'A' + 1) as u32;
            if c > b'I' {
                v -= 1;
            }
            if c > b'O' {
                v -= 1;
            }
            v
        };
        let sum: u32 =
            (0..6).map(|i| if i < 3 { letter(b[i]) } else { (b[i] - b'0') as u32 } * (7 - i as u32)).sum();
        !sum.is_multiple_of(11) && (11 - sum % 11) % 10 == (b[6] - b'0') as u32
    }

    #[test]
    fn test_patients_have_valid_test_nhis() {
        for p in PATIENTS {
            assert!(p.nhi.starts_with('Z'));
            assert!(nhi_valid(p.nhi), "{}", p.nhi);
        }
    }

    #[test]
    fn the_patient_without_an_nhi_is_known_but_never_found_by_nhi() {
        assert!(patient(PATIENT_WITHOUT_NHI.id).is_some());
        assert!(patient_by_nhi("").is_none());
        assert_eq!(patient_by_nhi("ZZZ0016").map(|p| p.id), Some(PATIENTS[0].id));
    }
}
