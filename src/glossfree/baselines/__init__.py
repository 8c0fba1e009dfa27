"""Reference systems that bracket a recipe's score on a benchmark.

- :mod:`.gloss_to_text`: the ceiling, a seq2seq model that reads the reference gloss sequence instead
  of the signing (the sign recognition problem solved perfectly), with the recipe's own language
  model and tokenizer.
- :mod:`.textbook`: the reference, a textbook encoder-decoder Transformer (``nn.Transformer``)
  trained as the SLT literature trains it, on gloss->text and on pose->text: what a plain
  Transformer reaches on the same data in the same steps, so a recipe's low regime shows at once.

The floors (the most frequent training sentence, the model fed another sample's input) live in
:mod:`glossfree.inference.evaluate`; the simple pose baseline is a recipe (``pose_conv``).
"""
