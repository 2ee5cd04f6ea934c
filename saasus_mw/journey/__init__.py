"""The buyer's journey, one module per step; :mod:`saasus_mw.flow` routes requests to them.

- :mod:`.arrival`: ``GET ?code&registration_token``, from the SaaSus login.
- :mod:`.picker`: ``GET ?saasus_mw=select``, the tenant picker.
- :mod:`.link`: ``POST ?saasus_mw=select``, the choice completing the purchase.
- :mod:`.finish`: once the purchase has its tenant: on_linked, the success URL, the hand-off.
- :mod:`.returning`: once the registration is spent: what the buyer is told, and a returning
  buyer's one sign-in; never a new code for a replayed state.
- :mod:`.answers`: the pages every step answers with, in the buyer's language.
"""
