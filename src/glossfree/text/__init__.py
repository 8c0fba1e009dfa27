"""Language side of glossfree: everything that turns target sentences into supervision or prompts.

- :mod:`glossfree.text.taggers` - POS taggers (HanTa built in, spaCy optional) -> UPOS triples;
- :mod:`glossfree.text.pseudo_gloss` - pseudo-gloss extraction, vocabulary, dataset annotation;
- :mod:`glossfree.text.prototypes` - prototype vectors (fastText, user vectors, LM embeddings);
- :mod:`glossfree.text.trim` - LM vocabulary trimming and id mapping;
- :mod:`glossfree.text.prompts` - SLT instructions, training-only in-context exemplars, SSA prompts;
- :mod:`glossfree.text.clean` - subtitle cleaning for web data (paper 004, appendix A.7);
- :mod:`glossfree.text.report` - the PHOENIX14T pseudo-gloss report;
- :mod:`glossfree.text.tokenizers` - loading/training LM tokenizers.

Submodules are imported explicitly (``from glossfree.text.pseudo_gloss import ...``) so that
importing ``glossfree.text`` stays cheap.
"""
