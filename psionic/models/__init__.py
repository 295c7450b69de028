"""psionic.models: model files, tokenizers, chat templates, families and the catalog."""
