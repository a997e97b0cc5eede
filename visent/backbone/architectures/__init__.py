"""The backbone architectures, one module each; :data:`visent.backbone.architecture.BACKBONES`
imports them all. An architecture module subclasses
:class:`~visent.backbone.architecture.Backbone` and decorates it with
:func:`~visent.backbone.architecture.register_backbone`."""
