"""Pretrained perception as parts: what is heard (YAMNet, AudioSet), seen (MobileNetV2, ImageNet),
detected (YOLOX-Nano, COCO) and read (PP-OCR) in a segment, offline on a CPU, and MiniLM
vectors of it so one text query reaches every modality. Model files: `avu.perception.files`.
"""
from avu.perception.embed import modality_embeddings, modality_texts
from avu.perception.files import ModelMissing, find_model
from avu.perception.perceiver import MODALITIES, Perceiver, PerceiverConfig
from avu.perception.result import Box, ObjectTag, SegmentPerception, Tag, TextLine

__all__ = ["MODALITIES", "Box", "ModelMissing", "ObjectTag", "Perceiver", "PerceiverConfig", "SegmentPerception",
           "Tag", "TextLine", "find_model", "modality_embeddings", "modality_texts"]
