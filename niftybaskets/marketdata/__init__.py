"""Market data from several providers, each answer naming its source.

`chain.MarketData` asks the providers in a configured order and reports why each one that failed
did: NSE's JSON API (`nse`), NSE Indices' constituent files (`niftyindices`), Yahoo Finance's chart
API (`yahoo`) and Kite (`kite`). Answers a parser does not understand are kept under
DATA_DIR/unexpected/ (`answers.save_unexpected`) so a bug report can carry the real payload.
"""
