"""The terms `lookup` knows without the network: common model organisms (NCBI
taxonomy) and imaging methods (FBbi), in the forms ``--rocrate-organism`` and
``--rocrate-modality`` take.

Sources and checking:

* NCBI taxonomy ids: the common laboratory organisms, cross-checked against
  several independent published uses of the same ``NCBITaxon`` ids (and, for
  10029/10036, the NCBITaxon "taxslim" OBO subset). Labels are the NCBI
  scientific names; the synonyms are common names used for searching.
* FBbi ids and labels: checked against the Biological Imaging Methods
  Ontology release 2020-11-06 (``fbbi.obo``, Imaging-semantics/fbbi). Newer
  FBbi releases may have reworded some labels (e.g. FBbi:00000369 "SPIM" is
  described as light sheet fluorescence microscopy); the ids are stable.

Both lists should be re-checked against the ontologies (EBI OLS) when they are
extended. Only ids that were verified belong here.
"""

from __future__ import annotations

from dataclasses import dataclass

NCBITAXON = "ncbitaxon"
FBBI = "fbbi"


@dataclass(frozen=True)
class Term:
    ontology: str  # "ncbitaxon" or "fbbi"
    number: str  # "9606", "00000369"
    label: str
    description: str = ""
    synonyms: tuple[str, ...] = ()

    @property
    def option_id(self) -> str:
        """The id as --rocrate-organism / --rocrate-modality take it."""
        return f"NCBI:txid{self.number}" if self.ontology == NCBITAXON else f"obo:FBbi_{self.number}"

    @property
    def obo_id(self) -> str:
        return f"NCBITaxon:{self.number}" if self.ontology == NCBITAXON else f"FBbi:{self.number}"


def _taxon(number: int, label: str, common: str, *synonyms: str) -> Term:
    return Term(NCBITAXON, str(number), label, common, (common, *synonyms))


def _fbbi(number: str, label: str, description: str = "", *synonyms: str) -> Term:
    return Term(FBBI, number, label, description, synonyms)


TERMS: tuple[Term, ...] = (
    # --- organisms (NCBI taxonomy) ---------------------------------------
    _taxon(9606, "Homo sapiens", "human", "man", "people", "patient"),
    _taxon(10090, "Mus musculus", "house mouse", "mouse", "mice"),
    _taxon(10116, "Rattus norvegicus", "Norway rat", "rat", "brown rat"),
    _taxon(7955, "Danio rerio", "zebrafish", "zebra fish"),
    _taxon(7227, "Drosophila melanogaster", "fruit fly", "fly", "drosophila", "vinegar fly"),
    _taxon(6239, "Caenorhabditis elegans", "nematode", "worm", "C. elegans"),
    _taxon(3702, "Arabidopsis thaliana", "thale cress", "arabidopsis"),
    _taxon(4932, "Saccharomyces cerevisiae", "baker's yeast", "budding yeast", "yeast", "brewer's yeast"),
    _taxon(4896, "Schizosaccharomyces pombe", "fission yeast", "yeast", "S. pombe"),
    _taxon(562, "Escherichia coli", "E. coli", "bacterium"),
    _taxon(8355, "Xenopus laevis", "African clawed frog", "frog", "xenopus"),
    _taxon(8364, "Xenopus tropicalis", "western clawed frog", "frog", "xenopus"),
    _taxon(9031, "Gallus gallus", "chicken", "chick"),
    _taxon(10029, "Cricetulus griseus", "Chinese hamster", "hamster", "CHO cells"),
    _taxon(10036, "Mesocricetus auratus", "golden hamster", "Syrian hamster", "hamster"),
    _taxon(9544, "Macaca mulatta", "rhesus monkey", "rhesus macaque", "macaque", "monkey"),
    _taxon(9913, "Bos taurus", "cattle", "cow", "bovine"),
    _taxon(9823, "Sus scrofa", "pig", "swine", "porcine"),
    _taxon(9615, "Canis lupus familiaris", "dog", "canine"),
    _taxon(9685, "Felis catus", "domestic cat", "cat"),
    _taxon(9796, "Equus caballus", "horse"),
    _taxon(9986, "Oryctolagus cuniculus", "rabbit"),
    _taxon(4577, "Zea mays", "maize", "corn"),
    _taxon(4530, "Oryza sativa", "rice"),
    _taxon(3055, "Chlamydomonas reinhardtii", "green alga", "alga", "chlamydomonas"),
    _taxon(44689, "Dictyostelium discoideum", "slime mold", "amoeba", "dictyostelium"),
    _taxon(5833, "Plasmodium falciparum", "malaria parasite", "plasmodium"),
    _taxon(5476, "Candida albicans", "yeast", "candida"),
    _taxon(1773, "Mycobacterium tuberculosis", "tuberculosis bacterium", "bacterium"),
    # --- imaging methods (FBbi) -------------------------------------------
    _fbbi("00000241", "microscopy", "Methods for forming images of objects too small to be observed with the unaided eye."),
    _fbbi("00000240", "macroscopy", "Methods for imaging objects large enough to be observed by the unaided eye."),
    _fbbi("00000345", "light microscopy", "Microscopy with lenses using UV, visible or IR illumination.", "optical microscopy"),
    _fbbi("00000243", "bright-field microscopy", "Light microscopy with widefield illumination and detection of absorption.",
          "brightfield", "widefield", "transmitted light", "histology"),
    _fbbi("00000244", "dark-field microscopy", "Imaging with rejection of the unscattered illumination.", "darkfield"),
    _fbbi("00000245", "differential interference contrast microscopy", "Light microscopy of optical path length gradients "
          "(Nomarski).", "DIC", "Nomarski"),
    _fbbi("00000247", "phase contrast microscopy", "Light microscopy of refractive index differences.", "phase contrast"),
    _fbbi("00000248", "polarization microscopy", "Light microscopy of retardance with polarized light.", "polarized light"),
    _fbbi("00000246", "fluorescence microscopy", "Light microscopy that records fluorescence emission.",
          "widefield fluorescence", "epifluorescence", "fluorescence"),
    _fbbi("00000251", "confocal microscopy", "Fluorescence microscopy with narrowfield illumination and detection.",
          "confocal", "laser scanning confocal", "LSCM", "CLSM"),
    _fbbi("00000252", "single-spot confocal microscopy", "Confocal microscopy scanning a single spot.",
          "point scanning confocal", "laser scanning"),
    _fbbi("00000253", "spinning disk confocal microscopy", "Confocal microscopy scanning with a spinning disk.",
          "spinning disk", "Nipkow"),
    _fbbi("00000392", "slit-scan confocal microscopy", "Confocal illumination and detection via a thin slit."),
    _fbbi("00000255", "multi-photon microscopy", "Fluorescence microscopy with pulsed narrowfield illumination.",
          "multiphoton", "two-photon", "2-photon", "three-photon"),
    _fbbi("00000254", "two-photon laser scanning microscopy", "Multi-photon microscopy with two-photon excitation.",
          "two-photon", "2-photon", "2P"),
    _fbbi("00000369", "SPIM", "Single (or selective) plane illumination: fluorescence microscopy with a light sheet.",
          "light sheet", "light-sheet", "lightsheet", "LSFM", "selective plane illumination",
          "light sheet fluorescence microscopy"),
    _fbbi("00000617", "evanescent wave microscopy", "Fluorescence microscopy using total internal reflection.",
          "TIRF", "total internal reflection fluorescence"),
    _fbbi("00000332", "structured illumination microscopy (SIM)", "Resolution-enhancing method using structured "
          "illumination.", "SIM", "super-resolution"),
    _fbbi("00000334", "stimulated emission depletion (STED)", "Resolution-enhancing method using emission-depletion "
          "illumination.", "STED", "super-resolution"),
    _fbbi("00000335", "PALM (photoactivation localization microscopy)", "Point-localization method using "
          "photo-activation.", "PALM", "single molecule localization", "SMLM", "super-resolution"),
    _fbbi("00000336", "STORM (stochastic optical reconstruction microscopy)", "Point-localization method using "
          "photo-switching.", "STORM", "dSTORM", "single molecule localization", "SMLM", "super-resolution"),
    _fbbi("00000366", "FRAP", "Fluorescence recovery after photobleaching.", "photobleaching"),
    _fbbi("00000367", "FRET", "Fluorescence (Forster) resonance energy transfer.", "Forster resonance energy transfer"),
    _fbbi("00000368", "FLIM", "Fluorescence lifetime imaging microscopy.", "fluorescence lifetime"),
    _fbbi("00000249", "time lapse microscopy", "Light microscopy over time.", "time-lapse", "live imaging", "timelapse"),
    _fbbi("00000370", "CARS", "Coherent anti-Stokes Raman microscopy.", "Raman"),
    _fbbi("00000371", "OCT", "Optical coherence tomography.", "optical coherence tomography"),
    _fbbi("00000256", "electron microscopy", "Microscopy with lenses using illumination by electrons.", "EM"),
    _fbbi("00000258", "transmission electron microscopy (TEM)", "Electron microscopy with widefield illumination "
          "and detection.", "TEM", "cryo-EM", "electron tomography"),
    _fbbi("00000257", "scanning electron microscopy (SEM)", "Image formed by scanning the specimen's surface with "
          "a beam of electrons in a raster pattern.", "SEM"),
    _fbbi("00000380", "scanning-transmission electron microscopy", "", "STEM"),
    _fbbi("00000585", "serial block face SEM (SBFSEM)", "Reconstructs 3D structure by combining serial sectioning "
          "with scanning EM.", "SBF-SEM", "SBEM", "volume EM"),
    _fbbi("00050000", "focussed ion beam scanning electron microscopy (FIB-SEM)", "Reconstructs 3D structure by "
          "ion beam milling of a block and scanning EM of each exposed surface.", "FIB-SEM", "FIBSEM", "volume EM"),
    _fbbi("00000259", "atomic force microscopy", "Scanning probe microscopy at a fixed distance above the surface.",
          "AFM"),
    _fbbi("00000260", "X-ray microscopy", "Microscopy using X-ray illumination.", "X-ray"),
    _fbbi("00001002", "X-ray computed tomography", "Computed tomography using X-ray illumination.",
          "micro-CT", "CT scan", "X-ray CT", "microCT"),
)
