//! The clean records of a synthetic year: what a perfect reader of the four
//! partner files should accept, field for field.
//!
//! Categorical values are kept as the exact French labels written in the
//! files (see the `*_` constants). Commune codes are kept as written in the
//! files: for years up to 2021 some are old codes of merged communes (see
//! `inputs/referentiel/passage_communes_loire.csv`) that a reader maps.

use chrono::NaiveDate;

/// Funder label of the State in `Convention` / `Mandats`.
pub const FINANCEUR_ETAT: &str = "État";
/// Funder label of the Département in `Convention` / `Mandats`.
pub const FINANCEUR_DEPARTEMENT: &str = "Département";

/// Values of `Type d'orientation`.
pub const TYPES_ORIENTATION: [&str; 3] = ["Professionnelle", "Sociale", "Socio-professionnelle"];
/// Values of `Organisme référent`.
pub const ORGANISMES_REFERENTS: [&str; 4] = ["Pôle emploi", "Département", "CCAS", "PLIE"];
/// Values of `Situation à 6 mois`.
pub const SITUATIONS_6_MOIS: [&str; 4] = ["Emploi", "Formation", "Sans solution", "Inconnue"];
/// Values of `Type d'action` (sheet `Accueil social`).
pub const TYPES_ACTION_ACCUEIL: [&str; 3] = [
    "Écrivain public numérique",
    "Atelier numérique collectif",
    "Accueil mutualisé",
];
/// Values of `Partenaire` (sheet `Accueil social`), besides empty.
pub const PARTENAIRES: [&str; 3] = ["CAF", "Pôle emploi", "Intercommunalité"];
/// Values of `Type` (sheet `Initiatives`).
pub const TYPES_INITIATIVE: [&str; 5] = [
    "Session sport",
    "Session culture",
    "Aide permis de conduire",
    "Maison kangourou",
    "Accompagnement EAJE",
];
/// Values of `Catégorie` (sheet `BRSA`).
pub const CATEGORIES_PE: [&str; 5] = ["A", "B", "C", "D", "E"];
/// Values of `Modalité` (sheet `BRSA`).
pub const MODALITES_PE: [&str; 4] = ["Suivi", "Guidé", "Renforcé", "Global"];
/// Values of `Motif sortie` (sheet `BRSA`).
pub const MOTIFS_SORTIE: [&str; 5] = [
    "Reprise d'emploi",
    "Entrée en formation",
    "Défaut d'actualisation",
    "Radiation",
    "Autre",
];

/// Everything generated for one year. Every vector is in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleData {
    pub year: i32,
    /// `caf_rsa_<Y>.csv`, sorted by month then numéro allocataire.
    pub caf: Vec<CafRow>,
    /// `departement_insertion_<Y>.xlsx`, sheet `Orientations`.
    pub orientations: Vec<Orientation>,
    /// Sheet `Contrats aidés`.
    pub contrats_aides: Vec<ContratAide>,
    /// Sheet `Jeunes ASE`.
    pub jeunes_ase: Vec<JeuneAse>,
    /// Sheet `Accueil social`.
    pub accueil_social: Vec<AccueilSocial>,
    /// Sheet `Initiatives`.
    pub initiatives: Vec<Initiative>,
    /// `pole_emploi_brsa_<Y>.xlsx`, sheet `BRSA`.
    pub brsa: Vec<BrsaRow>,
    /// `finances_<Y>.xlsx`, sheet `Convention`.
    pub convention: Vec<ConventionLine>,
    /// `finances_<Y>.xlsx`, sheet `Mandats`.
    pub mandats: Vec<Mandat>,
}

/// One row of the CAF monthly stock.
#[derive(Debug, Clone, PartialEq)]
pub struct CafRow {
    /// MOISREF: the first day of the reference month (written `AAAAMM`).
    pub moisref: NaiveDate,
    /// NUMALLOC: 7 digits, leading zeros kept.
    pub numalloc: String,
    /// DTOUVDRT: opening date of the right (constant for a household).
    pub dtouvdrt: NaiveDate,
    /// CODCOM: commune code as written (may be an old code for Y <= 2021).
    pub codcom: String,
    /// SDD: subject to rights and duties that month.
    pub sdd: bool,
    /// ETATDRT: 2 open and paid, 3/4 suspended, 5/6 closed.
    pub etatdrt: u8,
    /// NBPERS.
    pub nbpers: u32,
    /// MTRSAVERS in EUR (two decimals; 0 when suspended or closed).
    pub mtrsavers: f64,
}

impl CafRow {
    /// MOISREF as written in the clean file, `AAAAMM`.
    pub fn moisref_code(&self) -> String {
        self.moisref.format("%Y%m").to_string()
    }
}

/// Sheet `Orientations`: one row per household oriented or to orient.
/// A row "to orient" has no orientation date, type nor organisme.
#[derive(Debug, Clone, PartialEq)]
pub struct Orientation {
    /// `N° allocataire` (7 digits, text).
    pub numalloc: String,
    /// `Date ouverture droit`.
    pub date_ouverture_droit: NaiveDate,
    /// `Date d'orientation` (empty for a household still to orient).
    pub date_orientation: Option<NaiveDate>,
    /// `Type d'orientation`: Professionnelle / Sociale / Socio-professionnelle.
    pub type_orientation: Option<String>,
    /// `Organisme référent`: Pôle emploi / Département / CCAS / PLIE.
    pub organisme_referent: Option<String>,
    /// `Date premier RDV`.
    pub date_premier_rdv: Option<NaiveDate>,
    /// `Date réunion collective`.
    pub date_reunion_collective: Option<NaiveDate>,
    /// `Date signature CER`.
    pub date_signature_cer: Option<NaiveDate>,
    /// `Commune`.
    pub commune: String,
    /// `Accompagnement LOIRE` (Oui/Non).
    pub accompagnement_loire: bool,
}

/// Sheet `Contrats aidés`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContratAide {
    /// `N° allocataire` (7 digits, text).
    pub numalloc: String,
    /// `Date fin de contrat`.
    pub date_fin_contrat: NaiveDate,
    /// `Accompagnement renforcé` (Oui/Non).
    pub accompagnement_renforce: bool,
    /// `Date début accompagnement` (filled when reinforced).
    pub date_debut_accompagnement: Option<NaiveDate>,
    /// `Commune`.
    pub commune: String,
    /// `Situation à 6 mois`: Emploi / Formation / Sans solution / Inconnue.
    pub situation_6_mois: String,
}

/// Sheet `Jeunes ASE`.
#[derive(Debug, Clone, PartialEq)]
pub struct JeuneAse {
    /// `Identifiant jeune`, e.g. `J2019-00042`.
    pub identifiant: String,
    /// `Date de naissance`.
    pub date_naissance: NaiveDate,
    /// `Commune`.
    pub commune: String,
    /// `Date contrat trajectoire autonomie`.
    pub date_contrat_trajectoire: Option<NaiveDate>,
    /// `Référent de parcours`.
    pub referent_parcours: bool,
    /// `Logement stable`.
    pub logement_stable: bool,
    /// `Ressources`.
    pub ressources: bool,
    /// `Parcours scolaire ou professionnel`.
    pub parcours_scolaire_pro: bool,
    /// `Personne de confiance`.
    pub personne_confiance: bool,
}

/// Sheet `Accueil social`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccueilSocial {
    /// `Date`.
    pub date: NaiveDate,
    /// `Lieu`.
    pub lieu: String,
    /// `Commune`.
    pub commune: String,
    /// `Type d'action`.
    pub type_action: String,
    /// `Partenaire` (CAF / Pôle emploi / Intercommunalité / empty).
    pub partenaire: Option<String>,
    /// `Nombre de personnes`.
    pub nombre_personnes: u32,
}

/// Sheet `Initiatives`.
#[derive(Debug, Clone, PartialEq)]
pub struct Initiative {
    /// `Date`.
    pub date: NaiveDate,
    /// `Type`.
    pub type_initiative: String,
    /// `Commune`.
    pub commune: String,
    /// `Identifiant bénéficiaire` (empty for collective sessions), e.g. `B000123`.
    pub identifiant_beneficiaire: Option<String>,
    /// `Nombre de personnes` (families for Maison kangourou, 1 for individual rows).
    pub nombre_personnes: u32,
    /// `Montant` in EUR (driving-licence aid only).
    pub montant: Option<f64>,
    /// `Résultat` (Oui/Non/empty; empty means no).
    pub resultat: Option<bool>,
}

/// Sheet `BRSA` of Pôle emploi.
#[derive(Debug, Clone, PartialEq)]
pub struct BrsaRow {
    /// `N° allocataire CAF` (7 digits; written as an Excel number, so the
    /// file loses the leading zeros that this field keeps).
    pub numalloc_caf: String,
    /// `Date inscription`.
    pub date_inscription: NaiveDate,
    /// `Catégorie`: A-E.
    pub categorie: String,
    /// `Modalité`: Suivi / Guidé / Renforcé / Global.
    pub modalite: String,
    /// `Date entrée accompagnement global` (modality Global only).
    pub date_entree_accompagnement_global: Option<NaiveDate>,
    /// `Date sortie`.
    pub date_sortie: Option<NaiveDate>,
    /// `Motif sortie` (filled when there is an exit).
    pub motif_sortie: Option<String>,
    /// `Agence`.
    pub agence: String,
    /// `Commune`.
    pub commune: String,
}

/// Sheet `Convention`: amounts agreed per action. An empty amount means no
/// amount agreed for that funder (its execution rate is undefined).
#[derive(Debug, Clone, PartialEq)]
pub struct ConventionLine {
    /// `Action`.
    pub action: String,
    /// `Montant État`.
    pub montant_etat: Option<f64>,
    /// `Montant Département`.
    pub montant_departement: Option<f64>,
}

/// Sheet `Mandats`: one payment.
#[derive(Debug, Clone, PartialEq)]
pub struct Mandat {
    /// `Date mandat`.
    pub date_mandat: NaiveDate,
    /// `Action` (a label of `Convention`).
    pub action: String,
    /// `Financeur`: État / Département.
    pub financeur: String,
    /// `Montant` in EUR with cents.
    pub montant: f64,
}
